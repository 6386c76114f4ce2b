"""A steady stream of reading batches from one home, for fault tests: each batch is published
at QoS 1 and published again (same payload, same times) until the broker acknowledges it, as
the edge's outbox does; so every reading counted here as sent must end up in InfluxDB."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from types import TracebackType
from typing import Any, Self

import paho.mqtt.client as mqtt

from bedwatch import wire
from hub.broker import BrokerCredentials

PER_BATCH = 10
T0 = 1_764_000_000.0


class ReadingStream:
    """Publish `rate` batches a second as `credentials`' home until stopped, in a thread."""

    def __init__(self, port: int, credentials: BrokerCredentials, home: str,
                 rate: float = 20.0) -> None:
        self.home = home
        self.rate = rate
        self.sent_batches = 0  # acknowledged by the broker
        self.republished = 0
        self._stop = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=credentials.client_id)
        self._client.username_pw_set(credentials.username, credentials.password)
        self._client.reconnect_delay_set(1, 2)
        self._client.connect_async("127.0.0.1", port)
        self._thread = threading.Thread(target=self._run, name="reading-stream", daemon=True)

    @property
    def readings(self) -> int:
        return self.sent_batches * PER_BATCH

    def _batch(self, seq: int) -> bytes:
        return wire.encode(wire.ReadingBatch(agent=self.home, seq=seq, readings=[
            wire.Reading(device="bed", kind="vitals", t=T0 + seq + i / PER_BATCH,
                         fields={"heart_rate_bpm": 60 + i, "seq": seq})
            for i in range(PER_BATCH)]))

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            payload = self._batch(seq)
            while True:  # until the broker has it, or the test ends
                info = self._client.publish(wire.readings_topic(self.home), payload, qos=1)
                try:
                    info.wait_for_publish(2.0)
                    published = info.is_published()
                except (RuntimeError, ValueError):
                    published = False  # not connected: the client did not queue it
                if published:
                    break
                self.republished += 1
                if self._stop.wait(0.2):
                    return
            self.sent_batches += 1
            seq += 1
            self._stop.wait(1 / self.rate)

    def __enter__(self) -> Self:
        self._client.loop_start()
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(10)
        self._client.loop_stop()
        self._client.disconnect()


def stored_readings(influx_url: str, database: str, home: str) -> int:
    """Return how many readings of the stream's kind InfluxDB holds for `home` (0 when the
    database does not exist yet or InfluxDB does not answer)."""
    query = f"SELECT count(heart_rate_bpm) FROM vitals WHERE home = '{home}'"
    data = urllib.parse.urlencode({"q": query, "db": database}).encode()
    try:
        with urllib.request.urlopen(f"{influx_url}/query", data=data, timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except OSError:
        return 0
    series = answer["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def wait_stored(influx_url: str, database: str, home: str, want: int,
                timeout_s: float = 90.0) -> int:
    """Wait until InfluxDB holds `want` readings of `home`; return how many it holds."""
    deadline = time.monotonic() + timeout_s
    count = stored_readings(influx_url, database, home)
    while count < want and time.monotonic() < deadline:
        time.sleep(0.3)
        count = stored_readings(influx_url, database, home)
    return count
