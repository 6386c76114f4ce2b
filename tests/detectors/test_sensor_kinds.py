"""Any sensor, any rate: the board's hello names its strip sensor and rate, the driver checks
them and hands them on, the signal model renders each kind, and the estimator is scored on a
small held-out set of them through the real bytes."""

from __future__ import annotations

import numpy as np
import pytest

from edge.drivers.bed_sensor import BedSensorConfig, BedSensorDriver
from edge.drivers.framing import encode_frame
from edge.drivers.sampled_board import (
    FRAME_HELLO,
    SENSOR_KINDS,
    BoardInfo,
    decode_hello,
    encode_hello,
)
from edge.items import DeviceEvent, Observation, SampleBlock
from firmware_sim.bed_sensor import bed_info, bed_stream
from firmware_sim.physiology import Resident, Segment, render_bed
from firmware_sim.strip_sensors import LSB_V, SENSORS


def _driver() -> BedSensorDriver:
    return BedSensorDriver(BedSensorConfig(type="bed_sensor", id="bed", port="unused"))


def _hello(info: BoardInfo, seq: int = 0) -> bytes:
    return encode_frame(FRAME_HELLO, seq, encode_hello(info))


@pytest.mark.parametrize("sensor", list(SENSOR_KINDS.values()))
@pytest.mark.parametrize("fs", [50.0, 80.0, 655.35, 1000.0])
def test_hello_carries_kind_and_exact_rate(sensor: str, fs: float) -> None:
    info = decode_hello(encode_hello(bed_info(fs, sensor)))
    assert info.sensor == sensor and info.rate_hz == pytest.approx(fs, abs=1e-3)
    assert info.channels == 5 and info.scale[4] == pytest.approx(LSB_V, rel=1e-6)


def test_old_hello_still_works() -> None:
    payload = encode_hello(bed_info(80.0))
    assert len(payload) == 10 + 5 * 8  # head and a calibration per channel, nothing more
    info = decode_hello(payload)
    assert info.sensor is None and info.rate_hz == 80.0
    # An old board may sample slower than the strip sensors need: it is taken as before.
    assert decode_hello(encode_hello(bed_info(10.0))).rate_hz == 10.0


@pytest.mark.parametrize(("fs", "code", "reason"), [
    (40.0, 2, "sample rate 40 Hz of a piezo_film board is outside 50–1000 Hz"),
    (1200.0, 1, "sample rate 1200 Hz of a load_cell board is outside 50–1000 Hz"),
    (250.0, 9, "unknown sensor kind 9"),
])
def test_bad_hello_is_refused_with_its_reason(fs: float, code: int, reason: str) -> None:
    payload = bytearray(encode_hello(bed_info(250.0, "piezo_film")))
    payload[-5] = code
    payload[-4:] = round(fs * 1000).to_bytes(4, "little")
    with pytest.raises(ValueError, match=reason):
        decode_hello(bytes(payload))
    with pytest.raises(ValueError, match="expected 50 or 55"):
        decode_hello(bytes(payload[:-1]))


def test_driver_counts_a_refused_hello_tells_once_and_recovers() -> None:
    driver = _driver()
    bad = BoardInfo(0x20, "2.2.0", 5, 2000.0, 1, np.ones(5), np.zeros(5), "emfi")
    good_stream = bed_stream([Segment("lying", 3)], fs=250.0, sensor="emfi")
    samples = [f for _, f in good_stream.frames()][2:4]  # sample frames, no hello
    items = driver.handle_bytes(_hello(bad, 0) + samples[0] + _hello(bad, 1), 0.0)
    faults = [i for i in items if isinstance(i, DeviceEvent)]
    assert [f.kind for f in faults] == ["device_fault"]  # the repeated hello is not re-told
    assert "2000 Hz of a emfi board is outside 50–1000 Hz" in faults[0].data["reason"]
    errors = driver.error_counts()
    assert errors["hello_rejected"] == 2 and errors["decode"] == 2
    assert errors["before_hello"] == 1 and driver.info is None
    assert not [i for i in items if isinstance(i, SampleBlock)]
    items = driver.handle_bytes(_hello(good_stream.info, 2) + samples[1], 1.0)
    assert [i.kind for i in items if isinstance(i, DeviceEvent)] == ["device_recovered"]
    info = next(i for i in items if isinstance(i, Observation) and i.kind == "device_info")
    assert info.fields["sensor"] == "emfi" and info.fields["rate_hz"] == 250.0
    block = next(i for i in items if isinstance(i, SampleBlock))
    assert block.sensor == "emfi" and block.fs == 250.0


def test_the_whole_stream_at_1000_hz_arrives_whole() -> None:
    stream = bed_stream([Segment("lying", 4)], fs=1000.0, seed=5, sensor="fibre_optic")
    driver = _driver()
    blocks = [i for t, f in stream.frames() for i in driver.handle_bytes(f, t)
              if isinstance(i, SampleBlock)]
    got = np.concatenate([b.samples for b in blocks])
    assert got.shape == (4000, 5) and driver.error_counts()["decode"] == 0
    np.testing.assert_allclose(got, stream.counts * stream.info.scale + stream.info.offset,
                               rtol=1e-6)


def _strip(sensor: str, fs: float, seed: int = 1, **params: object) -> np.ndarray:
    rec = render_bed([Segment("lying", 40, dict(params))], Resident(hr_bpm=66), fs,
                     np.random.default_rng(seed), sensor=sensor)
    return rec.samples[:, 4]


def _band_power(x: np.ndarray, fs: float, lo: float, hi: float) -> float:
    f = np.fft.rfftfreq(len(x), 1 / fs)
    p = np.abs(np.fft.rfft(x - x.mean())) ** 2
    return float(p[(f >= lo) & (f <= hi)].sum())


def test_signal_model_is_deterministic_and_differs_by_sensor() -> None:
    np.testing.assert_array_equal(_strip("emfi", 100.0, seed=3), _strip("emfi", 100.0, seed=3))
    assert not np.array_equal(_strip("emfi", 100.0, seed=3), _strip("emfi", 100.0, seed=4))
    load, piezo, fsr = (_strip(s, 250.0) for s in ("load_cell", "piezo_film", "fsr_strip"))
    assert load.mean() > 0.3 and abs(piezo.mean()) < 1e-3  # DC level vs a charge source
    # The piezo film differentiates: breathing (0.1–0.5 Hz) is nearly gone against the
    # heartbeat's bursts, unlike on the load cell.
    ratio = {name: _band_power(x, 250.0, 0.1, 0.5) / _band_power(x, 250.0, 4, 12)
             for name, x in (("load", load), ("piezo", piezo))}
    assert ratio["piezo"] < ratio["load"] / 20
    assert fsr.std() > 0 and set(SENSORS) == set(SENSOR_KINDS.values())


def test_mains_hum_speech_and_heartbeat_strength() -> None:
    fs = 1000.0
    still = _strip("piezo_film", fs)
    hum = _band_power(still, fs, 49.5, 50.5) / _band_power(still, fs, 45, 49)
    assert hum > 50  # mains at 50 Hz stands out of its neighbourhood
    talking = _strip("piezo_film", fs, speech=True)

    def voice(x: np.ndarray) -> float:  # the voice band, without the hum's third harmonic
        return _band_power(x, fs, 95, 400) - _band_power(x, fs, 148, 152)

    assert voice(talking) > 20 * voice(still)
    weak, strong = _strip("emfi", 250.0, heart=0.3), _strip("emfi", 250.0, heart=2.0)
    assert _band_power(strong, 250.0, 4, 12) > 10 * _band_power(weak, 250.0, 4, 12)


def test_24_bit_quantisation_on_the_wire() -> None:
    stream = bed_stream([Segment("lying", 2)], fs=100.0, sensor="load_cell")
    strip = stream.counts[:, 4]
    assert strip.dtype == np.int64 and np.abs(strip).max() < 2**23
    volts = stream.counts[:, 4] * stream.info.scale[4]
    assert np.allclose(volts / LSB_V, np.round(volts / LSB_V))


def test_estimator_across_sensor_kinds_on_held_out_sessions() -> None:
    """The figures `bedwatch eval` reports per sensor kind, on one held-out session of each
    kind (different residents, rates and heartbeats from those used while developing)."""
    from rig.evalsensors import SENSOR_KINDS as KINDS
    from rig.evalsensors import run_session, score_sensors, suite

    sessions = suite("heldout", per_kind=1)
    assert {s.sensor for s in sessions} == set(KINDS) and len({s.fs for s in sessions}) >= 3
    figures = score_sensors([run_session(s) for s in sessions])
    every = figures["all"]
    assert every["hr_reported"] >= 15
    assert every["hr_mae_bpm"] <= 2.0, figures
    assert every["hr_off_10_pct"] <= 5.0, figures
    assert every["hr_coverage_still_normal"] >= 0.8, figures
    assert every["busy_abstained_or_right"] >= 0.9, figures
    assert every["rr_mae_bpm"] <= 1.0, figures
    assert len(figures["quality_error"]) == every["hr_reported"]
