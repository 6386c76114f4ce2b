"""Heart and breathing rate across strip sensor kinds and sample rates, through the bed board.

Each session is a resident lying in bed for about eight minutes on one kind of strip sensor at
one sample rate: lying still, talking, lying still, fidgeting, turning over, lying still, with
a weak, typical or strong heartbeat. The board's bytes (its hello naming the sensor and the
rate) go through the real driver; `estimate_rates` sees 30-s windows of the strip, as the
vitals detector does. A window is scored by what happened in it: *still* (only quiet lying),
*speech* or *movement*. On still windows the estimate is compared with the scripted rate; on
the others the estimator should abstain, and a rate it reports is checked all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.detectors.cardiorespiratory import estimate_rates
from edge.drivers.bed_sensor import BedSensorConfig, BedSensorDriver
from edge.items import SampleBlock

SENSOR_KINDS = ("load_cell", "piezo_film", "fsr_strip", "emfi", "fibre_optic")
RATES_HZ = (50.0, 100.0, 125.0, 250.0, 500.0, 1000.0)
HEART = {"weak": 0.3, "typical": 1.0, "strong": 2.0}
WINDOW_S = 30.0
OFF_BPM = 10.0  # an estimate further off than this is a wrong rate, not an imprecise one


@dataclass(frozen=True)
class Session:
    """One resident on one strip sensor at one sample rate."""

    name: str
    part: str
    seed: int
    sensor: str
    fs: float
    heart: str
    hr_bpm: float
    rr_bpm: float


@dataclass
class WindowResult:
    """One 30-s window: what happened in it, and what the estimator said."""

    sensor: str
    fs: float
    heart: str
    what: str  # still, speech or movement
    hr_true: float
    rr_true: float
    hr: float | None
    rr: float | None
    quality: float


@dataclass
class SessionResult:
    session: Session
    windows: list[WindowResult] = field(default_factory=list)


def suite(part: str = "heldout", per_kind: int | None = None) -> list[Session]:
    """Return the sessions of a part: every sensor kind at every rate, three heartbeats.

    Tuning and held-out sessions come from different seeds (and so different residents).
    `per_kind` keeps only that many sessions of each sensor kind (spread over the rates).
    """
    base = {"tuning": 7100, "heldout": 8300}[part]
    sessions: list[Session] = []
    for k, sensor in enumerate(SENSOR_KINDS):
        chosen: list[Session] = []
        for j, fs in enumerate(RATES_HZ):
            for h, heart in enumerate(HEART):
                seed = base + 100 * k + 10 * j + h
                rng = np.random.default_rng(seed)
                chosen.append(Session(f"{part}-{sensor}-{fs:g}Hz-{heart}", part, seed, sensor,
                                      fs, heart, float(rng.uniform(48, 100)),
                                      float(rng.uniform(9, 22))))
        if per_kind is not None:
            # Spread over the rates, and over the heartbeats, shifted by the kind.
            hearts = len(HEART)
            picks = [((k + i * len(RATES_HZ) // per_kind) % len(RATES_HZ), (k + i) % hearts)
                     for i in range(min(per_kind, len(chosen)))]
            chosen = [chosen[j * hearts + h] for j, h in picks]
        sessions += chosen
    return sessions


def script(session: Session) -> list[Any]:
    """The session's script (physiology segments) with its heartbeat strength."""
    from firmware_sim.physiology import Segment

    rng = np.random.default_rng([session.seed, 1])
    heart = {"heart": HEART[session.heart]}
    return [Segment("lying", float(rng.uniform(120, 150)), heart),
            Segment("lying", float(rng.uniform(45, 75)), {**heart, "speech": True}),
            Segment("lying", float(rng.uniform(60, 100)), heart),
            Segment("lying", float(rng.uniform(40, 60)), {**heart, "fidget": True}),
            Segment("turning", float(rng.uniform(4, 8)), heart),
            Segment("lying", float(rng.uniform(90, 120)), heart)]


def run_session(session: Session) -> SessionResult:
    """Render the session through the board's bytes and the driver; estimate every window."""
    from firmware_sim.bed_sensor import bed_stream
    from firmware_sim.physiology import Resident

    resident = Resident(hr_bpm=session.hr_bpm, rr_bpm=session.rr_bpm, restlessness=0.1)
    segments = script(session)
    stream = bed_stream(segments, resident, fs=session.fs, seed=session.seed,
                        sensor=session.sensor)
    # Where each segment lies, in seconds from the first sample (as the renderer rounds).
    ends = np.cumsum([max(1, round(s.duration_s * session.fs)) for s in segments]) / session.fs
    spans = list(zip(np.concatenate([[0.0], ends[:-1]]), ends, segments, strict=True))
    driver = BedSensorDriver(BedSensorConfig(type="bed_sensor", id="bed", port="sim"))
    blocks = [item for t, frame in stream.frames() for item in driver.handle_bytes(frame, t)
              if isinstance(item, SampleBlock)]
    if not blocks or blocks[0].sensor != session.sensor or blocks[0].fs != session.fs:
        raise RuntimeError(f"{session.name}: the driver did not take the board's hello "
                           f"({driver.error_counts()})")
    strip = np.concatenate([b.samples[:, 4] for b in blocks])
    width = round(WINDOW_S * session.fs)
    result = SessionResult(session)
    for first in range(0, len(strip) - width + 1, width):
        begin, end = first / session.fs, (first + width) / session.fs
        inside = [seg for lo, hi, seg in spans if lo < end and hi > begin]
        if any(s.kind != "lying" or s.params.get("fidget") for s in inside):
            what = "movement"
        elif any(s.params.get("speech") for s in inside):
            what = "speech"
        else:
            what = "still"
        rates = estimate_rates(strip[first:first + width], session.fs)
        result.windows.append(WindowResult(
            session.sensor, session.fs, session.heart, what, session.hr_bpm, session.rr_bpm,
            rates.heart_rate_bpm, rates.breathing_rate_bpm, float(rates.quality)))
    return result


def _figures(windows: list[WindowResult]) -> dict[str, Any]:
    still = [w for w in windows if w.what == "still"]
    hr_err = [abs(w.hr - w.hr_true) for w in still if w.hr is not None]
    rr_err = [abs(w.rr - w.rr_true) for w in still if w.rr is not None]
    normal = [w for w in still if w.heart != "weak"]
    busy = [w for w in windows if w.what != "still"]
    # Abstained, or reported a rate within OFF_BPM of the truth.
    held = [w for w in busy if w.hr is None or abs(w.hr - w.hr_true) <= OFF_BPM]

    def r(value: Any, digits: int = 3) -> float | None:
        return None if value is None else round(float(value), digits)

    return {
        "windows": len(windows),
        "still_windows": len(still),
        "hr_reported": len(hr_err),
        "hr_mae_bpm": r(np.mean(hr_err)) if hr_err else None,
        "hr_off_10_pct": r(100 * np.mean(np.array(hr_err) > OFF_BPM), 2) if hr_err else None,
        "hr_coverage_still_normal": r(np.mean([w.hr is not None for w in normal]))
        if normal else None,
        "hr_coverage_still_weak": r(np.mean([w.hr is not None for w in still
                                             if w.heart == "weak"]))
        if any(w.heart == "weak" for w in still) else None,
        "rr_mae_bpm": r(np.mean(rr_err)) if rr_err else None,
        "rr_coverage_still": r(np.mean([w.rr is not None for w in still])) if still else None,
        "busy_windows": len(busy),
        "busy_abstained": r(np.mean([w.hr is None for w in busy])) if busy else None,
        "busy_abstained_or_right": r(len(held) / len(busy)) if busy else None,
    }


def score_sensors(results: list[SessionResult]) -> dict[str, Any]:
    """Return HR/RR figures per sensor kind and over all kinds, and (quality, error) pairs."""
    windows = [w for r in results for w in r.windows]
    per_kind = {kind: _figures([w for w in windows if w.sensor == kind])
                for kind in SENSOR_KINDS if any(w.sensor == kind for w in windows)}
    per_rate = {f"{fs:g}": _figures([w for w in windows if w.fs == fs])
                for fs in RATES_HZ if any(w.fs == fs for w in windows)}
    pairs = [(w.quality, abs(w.hr - w.hr_true), w.sensor) for w in windows
             if w.what == "still" and w.hr is not None]
    return {"sessions": len(results), "all": _figures(windows), "per_sensor": per_kind,
            "per_rate_hz": per_rate,
            "quality_error": [[round(q, 3), round(e, 2), s] for q, e, s in pairs]}
