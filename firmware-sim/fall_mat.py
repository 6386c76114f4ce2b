"""A simulated pressure-grid floor mat (16×8 cells, 10 frames/s), from a script."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import numpy as np

from edge.drivers.fall_mat import DEVICE_TYPE_MAT
from edge.drivers.sampled_board import FORMAT_U8, BoardInfo
from firmware_sim.physiology import Segment, render_mat
from firmware_sim.sampled_board import BoardSim, BoardStream

KPA_PER_COUNT = 0.5

EVENING = [Segment("empty", 20), Segment("footsteps", 4), Segment("standing", 10),
           Segment("footsteps", 4), Segment("empty", 20), Segment("pet", 15),
           Segment("empty", 10), Segment("dropped_object", 15), Segment("empty", 10),
           Segment("fall", 2), Segment("lying_on_mat", 60), Segment("empty", 20)]


def mat_info(fs: float = 10.0, rows: int = 16, cols: int = 8) -> BoardInfo:
    return BoardInfo(DEVICE_TYPE_MAT, "1.4.2", rows * cols, fs, FORMAT_U8,
                     np.full(rows * cols, KPA_PER_COUNT), np.zeros(rows * cols))


def mat_stream(script: list[Segment] | None = None, *, fs: float = 10.0, seed: int = 0,
               t0: float = 0.0) -> BoardStream:
    """Return the byte stream of a mat for a script (one grid a frame)."""
    recording = render_mat(script or EVENING, fs, np.random.default_rng(seed), t0=t0)
    return BoardStream(mat_info(fs), recording.samples, per_frame=1)


def mat_sim(folder: Path, script: list[Segment] | None = None, *, speed: float = 1.0,
            seed: int = 0) -> BoardSim:
    return BoardSim(folder, mat_stream(script, seed=seed), name="ttyMAT", speed=speed)


async def run_pty() -> None:
    """Serve a mat on a pty (an evening's script, looping) until cancelled."""
    with mat_sim(Path(tempfile.mkdtemp(prefix="bedwatch-sim-"))) as sim:
        print(f"floor mat on {sim.path} (115200 8N1, 16×8 cells, 10 frames/s)", flush=True)
        await asyncio.Event().wait()
