"""A lean MQTT 3.1.1 subscriber session for the readings lane, on asyncio streams.

The readings lane receives tens of thousands of messages a second and publishes nothing. A
general client reads one packet per turn of the event loop, with several system calls each,
and hands messages over one at a time; this session reads the socket in large chunks, parses
every complete packet in them, hands the lane all PUBLISHes at once, and writes the PUBACKs of
many messages in one write. It does only what the lane needs: CONNECT with a persistent
session, SUBSCRIBE and UNSUBSCRIBE, QoS 0 and 1 PUBLISH received, PUBACK, keep-alive.

Packet layouts are those of MQTT 3.1.1 (OASIS standard, 2014), §2 (fixed header, remaining
length), §3.1 (CONNECT), §3.2 (CONNACK), §3.3 (PUBLISH), §3.4 (PUBACK), §3.8-3.11
(SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK), §3.12-3.14 (PINGREQ, PINGRESP, DISCONNECT).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 0x82, 0x90, 0xA2, 0xB0
PINGREQ, PINGRESP, DISCONNECT = b"\xc0\x00", 0xD0, b"\xe0\x00"
# §3.2.2.3: why a broker refuses a connection.
REFUSED = {1: "unacceptable protocol version", 2: "client identifier rejected",
           3: "server unavailable", 4: "bad user name or password", 5: "not authorized"}
READ_CHUNK = 256 * 1024
_PUBACK = struct.Struct(">BBH")


class LaneError(ConnectionError):
    """The session could not be opened, or it ended."""


class Publish(NamedTuple):
    """One received PUBLISH."""

    topic: str
    payload: bytes
    mid: int  # 0 for QoS 0
    qos: int


def _length(n: int) -> bytes:
    """Return MQTT's variable-length encoding of a remaining length (§2.2.3)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return len(data).to_bytes(2, "big") + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + _length(len(body)) + body


def connect_packet(client_id: str, username: str | None, password: str | None, *,
                   keepalive: int, clean_session: bool) -> bytes:
    """Return a CONNECT packet (protocol level 4: MQTT 3.1.1)."""
    flags = (0x02 if clean_session else 0) | (0x80 if username is not None else 0) | \
        (0x40 if password is not None else 0)
    body = _text("MQTT") + bytes([4, flags]) + keepalive.to_bytes(2, "big") + _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _text(password)
    return _packet(CONNECT, body)


def publish_packet(topic: str, payload: bytes, mid: int, *, retain: bool = False) -> bytes:
    """Return a QoS 1 PUBLISH packet (§3.3) with packet identifier `mid` (1–65535)."""
    return _packet(PUBLISH | 0x02 | (0x01 if retain else 0),
                   _text(topic) + mid.to_bytes(2, "big") + payload)


class MqttSession:
    """One connection as a subscriber: `open`, `subscribe`, then `receive` and `ack` in turn.

    Reading stops while `pause()` is in force, so that a lane holding as many messages as it
    may leaves the rest with the broker.
    """

    def __init__(self, host: str, port: int, *, client_id: str, username: str | None,
                 password: str | None, tls: ssl.SSLContext | None = None,
                 keepalive: int = 30, timeout_s: float = 10.0) -> None:
        self.host, self.port = host, port
        self.client_id, self.username, self.password = client_id, username, password
        self.tls = tls
        self.keepalive = keepalive
        self.timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer = bytearray()
        self._inbox: list[Publish] = []
        self._arrived = asyncio.Event()
        self._may_read = asyncio.Event()
        self._may_read.set()
        self._acks: dict[int, asyncio.Future[bytes]] = {}
        self._next_mid = 0
        self._ended: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._last_read = time.monotonic()
        self.session_present = False

    async def open(self, *, clean_session: bool = False) -> None:
        """Connect and wait for the broker's CONNACK; raise LaneError when refused."""
        try:
            async with asyncio.timeout(self.timeout_s):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.tls,
                    server_hostname=self.host if self.tls else None, limit=READ_CHUNK)
                self._writer.write(connect_packet(
                    self.client_id, self.username, self.password, keepalive=self.keepalive,
                    clean_session=clean_session))
                first, body = await self._read_one()
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            await self.close()
            raise LaneError(f"cannot connect to {self.host}:{self.port}: "
                            f"{type(exc).__name__}: {exc}") from exc
        if first != CONNACK or len(body) != 2:
            await self.close()
            raise LaneError(f"the broker answered CONNECT with packet type {first >> 4}")
        if body[1]:
            await self.close()
            raise LaneError(f"the broker refused the connection: "
                            f"{REFUSED.get(body[1], f'code {body[1]}')}")
        self.session_present = bool(body[0] & 1)
        self._ended = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._read_loop()),
                       asyncio.create_task(self._keep_alive())]

    async def _read_one(self) -> tuple[int, bytes]:
        """Read one whole packet straight from the stream (before the read loop runs)."""
        assert self._reader is not None
        first = (await self._reader.readexactly(1))[0]
        length, shift = 0, 0
        while True:
            byte = (await self._reader.readexactly(1))[0]
            length |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        return first, await self._reader.readexactly(length)

    async def subscribe(self, filters: Iterable[str], qos: int = 1) -> None:
        """Subscribe; raise LaneError when the broker refuses a filter (e.g. by its ACL)."""
        filters = list(filters)
        body = b"".join(_text(f) + bytes([qos]) for f in filters)
        codes = await self._request(SUBSCRIBE, body)
        refused = [f for f, code in zip(filters, codes, strict=False) if code == 0x80]
        if refused or len(codes) != len(filters):
            raise LaneError(f"the broker refused the subscription to {', '.join(refused)}")

    async def unsubscribe(self, filters: Iterable[str]) -> None:
        """Drop subscriptions an earlier session may hold (none is fine)."""
        await self._request(UNSUBSCRIBE, b"".join(_text(f) for f in filters))

    async def _request(self, first: int, body: bytes) -> bytes:
        self._next_mid = self._next_mid % 65535 + 1
        mid = self._next_mid
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._acks[mid] = answer
        self._write(_packet(first, mid.to_bytes(2, "big") + body))
        assert self._ended is not None
        try:
            async with asyncio.timeout(self.timeout_s):
                await asyncio.wait([answer, self._ended],  # type: ignore[type-var]
                                   return_when=asyncio.FIRST_COMPLETED)
        except TimeoutError as exc:
            raise LaneError(f"no answer from the broker within {self.timeout_s:.0f} s") from exc
        finally:
            self._acks.pop(mid, None)
        if not answer.done():
            self._raise_ended()
        return answer.result()

    def _write(self, data: bytes) -> None:
        if self._writer is None or self._writer.is_closing():
            self._raise_ended()
        assert self._writer is not None
        self._writer.write(data)

    def _raise_ended(self) -> None:
        ended = self._ended
        if ended is not None and ended.done() and ended.exception() is not None:
            raise LaneError(str(ended.exception())) from ended.exception()
        raise LaneError("the session ended")

    async def receive(self) -> list[Publish]:
        """Return every PUBLISH received since the last call, waiting for one if none."""
        while not self._inbox:
            self._arrived.clear()
            assert self._ended is not None
            if self._ended.done():
                self._raise_ended()
            waiter = asyncio.ensure_future(self._arrived.wait())
            try:
                await asyncio.wait([waiter, self._ended],  # type: ignore[type-var]
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        inbox, self._inbox = self._inbox, []
        return inbox

    def ack(self, mids: Iterable[int]) -> None:
        """Acknowledge QoS 1 messages, in one write."""
        data = b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids)
        if data:
            self._write(data)

    def pause(self, paused: bool) -> None:
        """Stop (True) or resume (False) reading from the broker."""
        if paused:
            self._may_read.clear()
        else:
            self._may_read.set()

    async def wait_until_ended(self) -> None:
        """Return when the session has ended (its cause is in `receive`'s error)."""
        assert self._ended is not None
        await asyncio.wait([self._ended])

    def _end(self, reason: BaseException) -> None:
        if self._ended is not None and not self._ended.done():
            self._ended.set_exception(reason)
            self._ended.exception()  # retrieved: no "never retrieved" warning
        self._arrived.set()

    async def _read_loop(self) -> None:
        reader = self._reader
        assert reader is not None
        try:
            while True:
                await self._may_read.wait()
                data = await reader.read(READ_CHUNK)
                if not data:
                    raise LaneError("the broker closed the connection")
                self._last_read = time.monotonic()
                self._buffer += data
                self._parse()
        except asyncio.CancelledError:
            raise
        except (OSError, LaneError, ValueError, IndexError) as exc:
            self._end(exc if isinstance(exc, LaneError) else
                      LaneError(f"connection lost: {type(exc).__name__}: {exc}"))

    def _parse(self) -> None:
        """Take every complete packet out of the buffer."""
        buf = self._buffer
        size = len(buf)
        at = 0
        inbox = self._inbox
        received = False
        while size - at >= 2:
            first = buf[at]
            length, shift, i, whole = 0, 0, at + 1, False
            while i < size and shift <= 21:
                byte = buf[i]
                i += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    whole = True
                    break
                shift += 7
            if not whole:
                if shift > 21:
                    raise LaneError("malformed remaining length from the broker")
                break  # the length itself is not all here
            end = i + length
            if end > size:
                break
            kind = first & 0xF0
            if kind == PUBLISH:
                qos = (first >> 1) & 3
                topic_end = i + 2 + int.from_bytes(buf[i:i + 2], "big")
                topic = buf[i + 2:topic_end].decode("utf-8", "replace")
                if qos:
                    mid = int.from_bytes(buf[topic_end:topic_end + 2], "big")
                    topic_end += 2
                else:
                    mid = 0
                inbox.append(Publish(topic, bytes(buf[topic_end:end]), mid, qos))
                received = True
            elif kind in (SUBACK, UNSUBACK):
                mid = int.from_bytes(buf[i:i + 2], "big")
                answer = self._acks.get(mid)
                if answer is not None and not answer.done():
                    answer.set_result(bytes(buf[i + 2:end]))
            elif kind != PINGRESP:
                raise LaneError(f"unexpected packet type {first >> 4} from the broker")
            at = end
        if at:
            del buf[:at]
        if received:
            self._arrived.set()

    async def _keep_alive(self) -> None:
        # §3.1.2.10: a packet at least every keep-alive period; the broker's silence for one
        # and a half periods while reading means the connection is gone.
        period = self.keepalive / 2
        while True:
            await asyncio.sleep(period)
            if self._writer is None or self._writer.is_closing():
                return
            self._writer.write(PINGREQ)
            if self._may_read.is_set() and \
                    time.monotonic() - self._last_read > 1.5 * self.keepalive:
                self._end(LaneError(f"no answer from the broker for {1.5 * self.keepalive} s"))
                return

    async def close(self) -> None:
        """Disconnect (the persistent session stays with the broker)."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        writer, self._writer = self._writer, None
        if writer is not None:
            with contextlib.suppress(Exception):
                if not writer.is_closing():
                    writer.write(DISCONNECT)
                writer.close()
                await asyncio.wait_for(writer.wait_closed(), 2)
        self._end(LaneError("the session was closed"))


class Pending(Protocol):
    """What a handler hands back for a message whose storing is still under way."""

    def when_stored(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the message is stored (at once if it is)."""

    def cancel(self) -> None:
        """Stop waiting: the session that would acknowledge it is gone."""


class _Slot:
    __slots__ = ("mid", "pending", "settled")

    def __init__(self, mid: int) -> None:
        self.mid = mid
        self.settled = False
        self.pending: Pending | None = None


class AckWindow:
    """The messages of one session not yet acknowledged, in the order they arrived.

    A message is acknowledged once it is settled (stored, or rejected) and every message
    before it has been acknowledged: PUBACKs leave in the order of the PUBLISHes.
    """

    def __init__(self) -> None:
        self._slots: deque[_Slot] = deque()

    def __len__(self) -> int:
        return len(self._slots)

    def open(self, mid: int) -> _Slot:
        """Hold the message with packet id `mid`; return its place."""
        slot = _Slot(mid)
        self._slots.append(slot)
        return slot

    def settle(self, slot: _Slot) -> list[int]:
        """Mark a message settled; return the packet ids to acknowledge now, in order."""
        slot.settled = True
        ready: list[int] = []
        slots = self._slots
        while slots and slots[0].settled:
            ready.append(slots.popleft().mid)
        return ready

    def close(self) -> int:
        """Forget every held message (the session is gone); return how many there were."""
        held = len(self._slots)
        for slot in self._slots:
            if slot.pending is not None:
                slot.pending.cancel()
        self._slots.clear()
        return held
