"""Physiologically plausible bed and floor-mat signals from a script, for simulators and tests.

A bed stands on four load cells (kg, one per leg, including the bed's own weight) and has a
piezo strip under the mattress (arbitrary units). A lying person adds their weight, shifted
by breathing (0.1–0.7 Hz) and by the ballistocardiogram of each heartbeat (J-peaks, 0.7–3 Hz
fundamental), with heart-rate variability and respiratory sinus arrhythmia. The numbers are
typical magnitudes, not a model of one sensor.

Given a strip `sensor` (a kind of `strip_sensors.SENSORS`), the strip channel is instead the
force under the mattress (kg) seen through that sensor, in volts at its converter: then a
lying segment may also carry `heart` (strength of the heartbeat, 1 typical, 0.3 weak, 2
strong), `speech` (the resident talks) and `fidget` (small movements every few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from firmware_sim.strip_sensors import SENSORS, fidgets, speech

BED_TARE_KG = 38.0  # frame and mattress, over four legs
LEGS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # (x: side, y: head→foot)
ADC_FULL_SCALE = 2**23 - 1  # HX711: 24-bit two's complement

BED_KINDS = ("empty", "lying", "lying_down", "getting_up", "sitting_edge", "turning", "apnea",
             "partner_sitting", "object_on_bed", "flat", "saturated", "drift", "disconnected")
MAT_KINDS = ("empty", "footsteps", "standing", "fall", "lying_on_mat", "dropped_object", "pet")


@dataclass(frozen=True)
class Resident:
    """Who lies in the bed."""

    weight_kg: float = 62.0
    hr_bpm: float = 64.0
    hrv: float = 0.04  # beat-to-beat variation, fraction of the interval
    rr_bpm: float = 14.0
    restlessness: float = 0.2  # 0 still … 1 restless: small movements while lying


@dataclass(frozen=True)
class Segment:
    """One part of a script: what happens, for how long."""

    kind: str
    duration_s: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recording:
    """Rendered samples and what really happened (for evaluation)."""

    t0: float
    fs: float
    samples: np.ndarray
    truth: list[dict[str, Any]]


def _leg_share(x: float, y: float) -> np.ndarray:
    # Bilinear share of a point load over the four legs.
    return np.array([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y])


def _heartbeats(n: int, fs: float, hr: float, hrv: float, rr: float,
                rng: np.random.Generator) -> np.ndarray:
    """Return a BCG-like waveform: a damped oscillation after each beat."""
    duration = n / fs
    beats: list[float] = []
    t = float(rng.uniform(0, 60 / hr))
    while t < duration:
        beats.append(t)
        # Respiratory sinus arrhythmia: the heart speeds up on inspiration.
        rsa = 1 - 0.03 * np.sin(2 * np.pi * rr / 60 * t)
        t += 60 / hr * rsa * (1 + hrv * rng.standard_normal())
    impulses = np.zeros(n)
    idx = (np.array(beats) * fs).astype(int)
    impulses[idx[idx < n]] = 1.0
    k = np.arange(int(0.6 * fs)) / fs
    kernel = np.exp(-k / 0.08) * np.sin(2 * np.pi * 7.0 * k)  # H-I-J-K complex, ~7 Hz
    return np.convolve(impulses, kernel)[:n]


STRIP_SHARE = 0.3  # of the body's weight on the strip (under the chest)
STRIP_BREATH_KG = 0.2
STRIP_BEAT_KG = 0.06


def render_bed(script: list[Segment], resident: Resident, fs: float, rng: np.random.Generator,
               *, t0: float = 0.0, sensor: str | None = None) -> Recording:
    """Render four load cells (kg) and the strip for a script: a.u. by default, or the volts
    of a strip `sensor` kind."""
    if sensor is not None and sensor not in SENSORS:
        raise ValueError(f"unknown strip sensor {sensor!r}; known: {', '.join(SENSORS)}")
    forces: list[np.ndarray] = []
    parts: list[np.ndarray] = []
    truth: list[dict[str, Any]] = []
    start = 0.0
    x, y = 0.5, 0.45  # where the body's weight centres while lying
    last = np.full(5, BED_TARE_KG / 4)
    last[4] = 0.0
    for seg in script:
        if seg.kind not in BED_KINDS:
            raise ValueError(f"unknown bed segment {seg.kind!r}; known: {', '.join(BED_KINDS)}")
        n = max(1, round(seg.duration_s * fs))
        t = np.arange(n) / fs
        out = np.zeros((n, 5))
        out[:, :4] = BED_TARE_KG / 4
        hr = float(seg.params.get("hr_bpm", resident.hr_bpm))
        rr = float(seg.params.get("rr_bpm", resident.rr_bpm))
        weight = resident.weight_kg
        body = np.zeros(n)  # fraction of the resident's weight on the bed
        breathing, bcg, movement = True, True, resident.restlessness * 0.05
        if seg.kind in ("lying", "apnea", "turning"):
            body[:] = 1.0
            breathing = seg.kind != "apnea"
            if seg.kind == "turning":
                movement = 3.0
                x = float(np.clip(x + rng.uniform(-0.15, 0.15), 0.3, 0.7))
        elif seg.kind == "lying_down":
            body[:] = np.clip(t / max(seg.duration_s, 1e-9) * 1.3, 0, 1)
            movement = 2.0
        elif seg.kind == "getting_up":
            body[:] = np.clip(1 - t / max(seg.duration_s, 1e-9) * 1.3, 0, 1)
            movement = 2.0
        elif seg.kind == "sitting_edge":
            body[:] = 0.75  # the feet carry the rest
            breathing, bcg = False, False
            movement = 0.5
        elif seg.kind in ("partner_sitting", "object_on_bed"):
            extra = float(seg.params.get("weight_kg", 55.0 if seg.kind == "partner_sitting"
                                         else 8.0))
            share = _leg_share(1.0 if seg.kind == "partner_sitting" else 0.5, 0.6)
            out[:, :4] += extra * (0.7 if seg.kind == "partner_sitting" else 1.0) * share
            if seg.params.get("with_resident", False):
                body[:] = 1.0
            else:
                breathing, bcg = False, False
        present = body > 0.05
        edge_x = 0.95 if seg.kind in ("sitting_edge", "getting_up") else x
        share = _leg_share(edge_x, y)
        out[:, :4] += (weight * body)[:, None] * share[None, :]
        if breathing:
            resp = np.sin(2 * np.pi * rr / 60 * t + rng.uniform(0, 2 * np.pi))
            # Breathing moves the centre of mass along the bed: head legs vs foot legs.
            out[:, :4] += (0.12 * weight / 60 * resp * present)[:, None] * \
                np.array([1.0, 1.0, -1.0, -1.0])[None, :]
            out[:, 4] += 3.0 * resp * present
        if bcg:
            beat = _heartbeats(n, fs, hr, resident.hrv, rr, rng) * present
            out[:, 4] += 1.0 * beat
            out[:, :4] += 0.02 * beat[:, None]
        if sensor is not None:
            # The strip's own view of the same body: its share of the weight, breathing and
            # the heartbeat, then what the segment adds.
            force = STRIP_SHARE * weight * body
            if breathing:
                force = force + STRIP_BREATH_KG * resp * present
            if bcg:
                force = force + STRIP_BEAT_KG * float(seg.params.get("heart", 1.0)) * beat
            if seg.params.get("speech"):
                force = force + speech(n, fs, rng) * present
            if seg.params.get("fidget"):
                force = force + fidgets(n, fs, rng) * present
        if movement:
            wander = np.cumsum(rng.standard_normal((n, 5)), axis=0) / np.sqrt(fs)
            out += movement * wander * present[:, None] * np.array([0.2, 0.2, 0.2, 0.2, 1.0])
            if sensor is not None:
                force = force + 0.3 * movement * wander[:, 4] * present
                if movement > 1:  # turning over: the whole body thumps the mattress
                    force = force + fidgets(n, fs, rng, every_s=1.0, level_kg=2.0) * present
        out += rng.standard_normal((n, 5)) * np.array([0.01, 0.01, 0.01, 0.01, 0.05])
        if seg.kind == "flat":
            out[:] = last
        elif seg.kind == "saturated":
            out[:, 0] = float(seg.params.get("value", 500.0))
        elif seg.kind == "drift":
            out[:, 0] += t * float(seg.params.get("kg_per_s", 0.05))
        elif seg.kind == "disconnected":
            out[:, int(seg.params.get("channel", 0))] = 0.0
        parts.append(out)
        if sensor is not None:
            forces.append(force)
        last = out[-1].copy()
        truth.append({"kind": seg.kind, "start": t0 + start, "end": t0 + start + n / fs,
                      "hr_bpm": hr if seg.kind in ("lying", "apnea") else None,
                      "rr_bpm": rr if seg.kind == "lying" else None,
                      "heart": float(seg.params.get("heart", 1.0)),
                      "speech": bool(seg.params.get("speech", False)),
                      "fidget": bool(seg.params.get("fidget", False))})
        start += n / fs
    samples = np.concatenate(parts)
    if sensor is not None:
        samples[:, 4] = SENSORS[sensor].transfer(np.concatenate(forces), fs, rng)
        for i, seg in enumerate(script):  # faults the board shows on its strip too
            strip_lost = seg.kind == "flat" or (seg.kind == "disconnected" and
                                                int(seg.params.get("channel", 0)) == 4)
            if strip_lost:
                begin = sum(len(p) for p in parts[:i])
                samples[begin:begin + len(parts[i]), 4] = samples[max(0, begin - 1), 4] \
                    if seg.kind == "flat" else 0.0
    return Recording(t0, fs, samples, truth)


def _blob(grid: np.ndarray, r: float, c: float, h: float, w: float, kpa: float) -> None:
    rows, cols = np.ogrid[: grid.shape[0], : grid.shape[1]]
    mask = ((rows - r) / max(h / 2, 0.5)) ** 2 + ((cols - c) / max(w / 2, 0.5)) ** 2 <= 1
    grid[mask] += kpa


def render_mat(script: list[Segment], fs: float, rng: np.random.Generator, *, t0: float = 0.0,
               rows: int = 16, cols: int = 8) -> Recording:
    """Render a pressure-grid floor mat (kPa per cell), row-major frames of rows×cols."""
    frames: list[np.ndarray] = []
    truth: list[dict[str, Any]] = []
    start = 0.0
    for seg in script:
        if seg.kind not in MAT_KINDS:
            raise ValueError(f"unknown mat segment {seg.kind!r}; known: {', '.join(MAT_KINDS)}")
        n = max(1, round(seg.duration_s * fs))
        r0 = float(seg.params.get("row", rng.uniform(3, rows - 4)))
        c0 = float(seg.params.get("col", rng.uniform(2, cols - 3)))
        for i in range(n):
            grid = np.zeros((rows, cols))
            ts = i / fs
            if seg.kind == "footsteps":
                step = int(ts / 0.55)
                if (ts % 0.55) < 0.4:
                    _blob(grid, (2 + 2.5 * step) % rows, 2.5 + (step % 2) * 3, 3, 2, 60)
            elif seg.kind == "standing":
                _blob(grid, r0, c0 - 1.5, 3, 2, 55)
                _blob(grid, r0, c0 + 1.5, 3, 2, 55)
            elif seg.kind in ("fall", "lying_on_mat"):
                grown = min(1.0, ts / 0.8) if seg.kind == "fall" else 1.0
                _blob(grid, rows / 2, cols / 2, 11 * grown + 1, 5 * grown + 1, 12)
            elif seg.kind == "dropped_object":
                _blob(grid, r0, c0, 1, 1, 30)
            elif seg.kind == "pet":
                wander = 3 * np.sin(ts / 2)
                for dr, dc in ((0, 0), (0, 2), (3, 0), (3, 2)):
                    _blob(grid, r0 + dr + wander, c0 + dc - 1, 1, 1, 15)
            grid += np.abs(rng.standard_normal((rows, cols))) * 0.2
            frames.append(grid.reshape(-1))
        truth.append({"kind": seg.kind, "start": t0 + start, "end": t0 + start + n / fs})
        start += n / fs
    return Recording(t0, fs, np.array(frames), truth)
