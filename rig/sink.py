"""A local HTTP notification sink: receives what apprise's `json://` sends, for the demo and tests.

apprise posts `{"version", "title", "message", "type", ...}` as JSON to the URL path; the sink
keeps every post with its path (the path names the caregiver) and the time it arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Notification:
    """One delivered notification."""

    path: str
    body: dict[str, Any]
    received_monotonic: float
    received_at: float = field(default_factory=time.time)

    @property
    def text(self) -> str:
        return f"{self.body.get('title', '')}\n{self.body.get('message', '')}"


class NotificationSink:
    """Collect JSON POSTs on a loopback port; `url(name)` is an apprise `json://` URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 on_notification: Callable[[Notification], None] | None = None,
                 fail_first: int = 0) -> None:
        self.notifications: list[Notification] = []
        self._cond = threading.Condition()
        self._on_notification = on_notification
        self._fail_remaining = fail_first
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with sink._cond:
                    if sink._fail_remaining > 0:
                        sink._fail_remaining -= 1
                        self.send_response(503)
                        self.end_headers()
                        return
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"raw": raw.decode(errors="replace")}
                note = Notification(self.path, body, time.monotonic())
                with sink._cond:
                    sink.notifications.append(note)
                    sink._cond.notify_all()
                if sink._on_notification is not None:
                    sink._on_notification(note)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="notification-sink")

    def url(self, name: str) -> str:
        """Return the apprise URL that delivers to this sink under `/name`."""
        return f"json://{self.host}:{self.port}/{name}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, predicate: Callable[[Notification], bool], timeout: float = 10.0,
                 count: int = 1) -> list[Notification]:
        """Wait until `count` notifications match; return them (fewer after the timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [n for n in self.notifications if predicate(n)]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._cond.wait(remaining)

    async def wait_for_async(self, predicate: Callable[[Notification], bool],
                             within_s: float = 10.0, count: int = 1) -> list[Notification]:
        """`wait_for` for asyncio code: the event loop keeps running meanwhile."""
        return await asyncio.to_thread(self.wait_for, predicate, within_s, count)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
