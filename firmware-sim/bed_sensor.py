"""A simulated bed board: four HX711 load cells and a piezo strip, from a script."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import numpy as np

from edge.drivers.bed_sensor import DEVICE_TYPE_BED
from edge.drivers.sampled_board import FORMAT_INT24, BoardInfo
from firmware_sim.physiology import Resident, Segment, render_bed
from firmware_sim.sampled_board import BoardSim, BoardStream

# About 20 g per count on the load cells; the piezo in thousandths of its unit.
SCALE = np.array([0.02e-3 * 1000] * 4 + [1e-3])
OFFSET = np.array([-5.0] * 4 + [0.0])

NIGHT = [Segment("empty", 20), Segment("lying_down", 4), Segment("lying", 240),
         Segment("turning", 5), Segment("lying", 240), Segment("sitting_edge", 15),
         Segment("getting_up", 3), Segment("empty", 60)]


def bed_info(fs: float = 80.0) -> BoardInfo:
    return BoardInfo(DEVICE_TYPE_BED, "2.1.0", 5, fs, FORMAT_INT24, SCALE, OFFSET)


def bed_stream(script: list[Segment] | None = None, resident: Resident | None = None, *,
               fs: float = 80.0, seed: int = 0, t0: float = 0.0) -> BoardStream:
    """Return the byte stream of a bed board for a script (8 samples a frame)."""
    recording = render_bed(script or NIGHT, resident or Resident(), fs,
                           np.random.default_rng(seed), t0=t0)
    return BoardStream(bed_info(fs), recording.samples, per_frame=max(1, round(fs / 10)))


def bed_sim(folder: Path, script: list[Segment] | None = None, *, speed: float = 1.0,
            seed: int = 0) -> BoardSim:
    """Return a bed board on a pty playing the script in a loop."""
    return BoardSim(folder, bed_stream(script, seed=seed), name="ttyBED", speed=speed)


async def run_pty() -> None:
    """Serve a bed board on a pty (a night's script, looping) until cancelled."""
    with bed_sim(Path(tempfile.mkdtemp(prefix="bedwatch-sim-"))) as sim:
        print(f"bed board on {sim.path} (230400 8N1, 80 samples/s, 5 channels)", flush=True)
        await asyncio.Event().wait()
