"""A simulated bed board: four HX711 load cells and a strip under the mattress, from a script.

Without a sensor kind it is the original board (firmware 2.1: a piezo strip in arbitrary
units, a hello without the sensor field). With one (`strip_sensors.SENSORS`) it is firmware
2.2: the strip in volts of its 24-bit converter, and the hello names the kind and the exact
rate.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import numpy as np

from edge.drivers.bed_sensor import DEVICE_TYPE_BED
from edge.drivers.sampled_board import FORMAT_INT24, BoardInfo
from firmware_sim.physiology import Resident, Segment, render_bed
from firmware_sim.sampled_board import BoardSim, BoardStream
from firmware_sim.strip_sensors import LSB_V

# About 20 g per count on the load cells; the piezo in thousandths of its unit.
SCALE = np.array([0.02e-3 * 1000] * 4 + [1e-3])
OFFSET = np.array([-5.0] * 4 + [0.0])

NIGHT = [Segment("empty", 20), Segment("lying_down", 4), Segment("lying", 240),
         Segment("turning", 5), Segment("lying", 240), Segment("sitting_edge", 15),
         Segment("getting_up", 3), Segment("empty", 60)]


def bed_info(fs: float = 80.0, sensor: str | None = None) -> BoardInfo:
    """Return what the board says in its hello (with the strip's kind from firmware 2.2)."""
    if sensor is None:
        return BoardInfo(DEVICE_TYPE_BED, "2.1.0", 5, fs, FORMAT_INT24, SCALE, OFFSET)
    scale, offset = SCALE.copy(), OFFSET.copy()
    scale[4], offset[4] = LSB_V, 0.0
    return BoardInfo(DEVICE_TYPE_BED, "2.2.0", 5, fs, FORMAT_INT24, scale, offset, sensor)


def per_frame(fs: float) -> int:
    """Samples a frame: ten frames a second, within the frame's 255 samples and 1024 bytes."""
    return max(1, min(round(fs / 10), 1024 // (5 * 3) - 1))


def bed_stream(script: list[Segment] | None = None, resident: Resident | None = None, *,
               fs: float = 80.0, seed: int = 0, t0: float = 0.0,
               sensor: str | None = None) -> BoardStream:
    """Return the byte stream of a bed board for a script (about ten frames a second)."""
    recording = render_bed(script or NIGHT, resident or Resident(), fs,
                           np.random.default_rng(seed), t0=t0, sensor=sensor)
    return BoardStream(bed_info(fs, sensor), recording.samples, per_frame=per_frame(fs),
                       t0=t0)


def bed_sim(folder: Path, script: list[Segment] | None = None, *, speed: float = 1.0,
            seed: int = 0) -> BoardSim:
    """Return a bed board on a pty playing the script in a loop."""
    return BoardSim(folder, bed_stream(script, seed=seed), name="ttyBED", speed=speed)


async def run_pty() -> None:
    """Serve a bed board on a pty (a night's script, looping) until cancelled."""
    with bed_sim(Path(tempfile.mkdtemp(prefix="bedwatch-sim-"))) as sim:
        print(f"bed board on {sim.path} (230400 8N1, 80 samples/s, 5 channels)", flush=True)
        await asyncio.Event().wait()
