"""The blood-pressure cuff driver's memory of what it has delivered, kept in a state file.

A record delivered twice (after a reconnect, by RACP and by indication, or after an agent
restart) must become one reading, so `edge/drivers/bp_cuff.py` remembers a key for each
reading and the last RACP sequence number here.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path


class CuffState:
    """Keys of readings already delivered and the last RACP sequence number, kept on disk."""

    LIMIT = 4096  # far more than any cuff's memory, so a full memory dump is still recognised

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.last_sequence: int | None = None
        self.dirty = False

    def load(self) -> str | None:
        """Read the state file; return a complaint if it was unreadable (then start empty)."""
        if self.path is None or not self.path.exists():
            return None
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            keys = raw["seen"]
            last = raw["last_sequence"]
            if raw.get("v") != 1 or not isinstance(keys, list) or \
                    not all(isinstance(k, str) and len(k) <= 64 for k in keys) or \
                    not (last is None or (isinstance(last, int) and 0 <= last <= 0xFFFF)):
                raise ValueError("unexpected content")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            return f"{self.path}: {exc}"
        self.seen = OrderedDict.fromkeys(keys[-self.LIMIT:])
        self.last_sequence = last
        return None

    def remember(self, key: str) -> None:
        self.seen[key] = None
        while len(self.seen) > self.LIMIT:
            self.seen.popitem(last=False)
        self.dirty = True

    def save(self) -> None:
        """Write the state atomically (temp file, fsync, rename)."""
        if self.path is None or not self.dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        body = json.dumps({"v": 1, "last_sequence": self.last_sequence, "seen": list(self.seen)})
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        self.dirty = False
