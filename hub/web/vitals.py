"""The resident's last vital signs for the caregiver's page, from InfluxDB, never in the way.

Each lookup is bounded by a short timeout and its answer kept for a little while, so a slow or
absent InfluxDB costs the page at most that timeout once, and the page shows "—" instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from hub.config import InfluxSection
from hub.influx import InfluxError, InfluxWriter

log = logging.getLogger(__name__)

# What the page shows, and the reading fields they come from (docs/protocol.md).
FIELDS = {"heart_rate": "heart_rate_bpm", "breathing_rate": "breathing_rate_bpm",
          "systolic": "systolic_mmhg", "diastolic": "diastolic_mmhg"}
LOOKUP_TIMEOUT_S = 1.5
KEEP_S = 30.0  # how long an answer is reused
RETRY_S = 10.0  # how long a failed lookup is not tried again
WINDOW = "24h"  # older readings say little about the resident now


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class VitalsReader:
    """Read and keep the last heart rate, breathing rate and blood pressure of homes."""

    section: InfluxSection | None
    timeout_s: float = LOOKUP_TIMEOUT_S
    keep_s: float = KEEP_S
    # Answers by home, with when they were read; None: the lookup failed (not retried at once).
    _kept: dict[str, tuple[float, dict[str, Any] | None]] = field(default_factory=dict)

    async def _query(self, influx: InfluxWriter, home: str) -> dict[str, Any]:
        where = f'WHERE "home" = {_literal(home)} AND time > now() - {WINDOW}'
        pulse, breath, pressure = await asyncio.gather(
            influx.query(f'SELECT last("heart_rate_bpm") AS v FROM /.*/ {where}'),
            influx.query(f'SELECT last("breathing_rate_bpm") AS v FROM /.*/ {where}'),
            influx.query(f'SELECT last("systolic_mmhg") AS s, "diastolic_mmhg" AS d '
                         f'FROM /.*/ {where}'))
        found: dict[str, Any] = {}
        for name, series in (("heart_rate", pulse), ("breathing_rate", breath)):
            rows = [row for one in series for row in one.get("values", [])]
            if rows:
                t, value = max(rows, key=lambda row: row[0])
                found[name] = {"value": value, "t": t / 1000}
        rows = [row for one in pressure for row in one.get("values", [])]
        if rows:
            t, systolic, diastolic = max(rows, key=lambda row: row[0])
            found["blood_pressure"] = {"systolic": systolic, "diastolic": diastolic,
                                       "t": t / 1000}
        return found

    async def _lookup(self, homes: list[str]) -> dict[str, dict[str, Any] | None]:
        assert self.section is not None
        influx = InfluxWriter(self.section)
        try:
            answers = await asyncio.gather(*(self._query(influx, h) for h in homes))
        finally:
            with contextlib.suppress(httpx.HTTPError, InfluxError):
                await influx.close()
        return dict(zip(homes, answers, strict=True))

    def _stale(self, home: str, now: float) -> bool:
        if home not in self._kept:
            return True
        at, values = self._kept[home]
        return now - at > (self.keep_s if values is not None else RETRY_S)

    async def latest(self, homes: list[str]) -> dict[str, dict[str, Any] | None]:
        """Return each home's last vital signs; None for a home whose lookup failed."""
        now = time.monotonic()
        wanted = sorted({h for h in homes if h and self._stale(h, now)})
        if wanted and self.section is not None:
            found: dict[str, dict[str, Any] | None]
            try:
                found = await asyncio.wait_for(self._lookup(wanted), self.timeout_s)
            except (TimeoutError, httpx.HTTPError, InfluxError, ValueError, KeyError) as exc:
                log.info("vital signs not read from InfluxDB (%s): the page shows none",
                         type(exc).__name__)
                found = dict.fromkeys(wanted, None)
            for home, values in found.items():
                self._kept[home] = (now, values)
        return {h: self._kept[h][1] if h in self._kept else None for h in homes}
