"""Run detectors over rendered scripts, feeding every output to every detector as the agent does."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge.items import DeviceEvent, Observation, SampleBlock
from firmware_sim.physiology import Recording

T0 = 1_772_366_400.0  # 2026-03-01 20:00 at UTC+8


def run(detectors: list[Any], recordings: dict[str, Recording], block_s: float = 1.0
        ) -> list[Observation | DeviceEvent]:
    """Feed recordings (device → recording) in time order; return everything produced."""
    blocks: list[SampleBlock] = []
    for device, rec in recordings.items():
        step = max(1, int(block_s * rec.fs))
        for s in range(0, len(rec.samples), step):
            blocks.append(SampleBlock(device, rec.t0 + s / rec.fs, rec.fs,
                                      rec.samples[s:s + step]))
    blocks.sort(key=lambda b: b.t0)
    out: list[Observation | DeviceEvent] = []

    def feed(item: SampleBlock | Observation | DeviceEvent) -> None:
        for detector in detectors:
            for produced in detector.feed(item):
                out.append(produced)
                feed(produced)

    for block in blocks:
        feed(block)
    return out


def events(out: list[Observation | DeviceEvent], kind: str | None = None) -> list[DeviceEvent]:
    return [o for o in out if isinstance(o, DeviceEvent) and (kind is None or o.kind == kind)]


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)
