"""The blood-pressure cuff: golden bytes, the Beurer variant, random bytes, and the driver
against a simulated cuff that delivers stored readings and loses its link part-way."""

from __future__ import annotations

import asyncio
import json
import struct
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.base import DeviceEvent, DriverItem, Reading
from edge.drivers.bp_cuff import (
    CURRENT_TIME,
    DATE_TIME,
    BpCuffConfig,
    BpCuffDriver,
    decode_cuff_pressure,
    decode_features,
    decode_measurement,
    sfloat,
)
from firmware_sim.bp_cuff import Measurement, SimulatedCuff, encode_measurement

CASES = sorted((Path(__file__).parent / "cases").iterdir())


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case: Path) -> None:
    data = bytes.fromhex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    beurer = expected["variant"] == "beurer"
    if "error" in expected:
        with pytest.raises(ValueError, match=expected["error"]):
            decode_measurement(data, big_endian_pulse_status=beurer, always_user_id=beurer)
        return
    m = decode_measurement(data, big_endian_pulse_status=beurer, always_user_id=beurer)
    got = {**m.__dict__, "timestamp": m.timestamp.isoformat() if m.timestamp else None}
    assert got == expected["measurement"]


def test_sfloat_reference_values() -> None:
    assert sfloat(0xF488) == 116.0  # the reference example: mantissa 1160, exponent -1
    assert sfloat(0x0FFF) == -1.0  # negative mantissa
    for special in (0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801):
        assert sfloat(special) is None


def test_feature_and_cuff_pressure() -> None:
    assert decode_features(struct.pack("<H", 0b100101)) == {
        "body_movement_detection": True, "cuff_fit_detection": False,
        "irregular_pulse_detection": True, "pulse_rate_range_detection": False,
        "measurement_position_detection": False, "multiple_bonds": True}
    assert decode_cuff_pressure(bytes.fromhex("00 a0 00 ff 07 ff 07")) == 160.0


@given(st.binary(max_size=40), st.booleans())
def test_random_bytes_raise_only_value_error(data: bytes, beurer: bool) -> None:
    try:
        m = decode_measurement(data, big_endian_pulse_status=beurer, always_user_id=beurer)
    except ValueError:
        return
    assert 0 < m.diastolic_mmhg <= m.systolic_mmhg


@given(st.integers(60, 250), st.integers(30, 140), st.one_of(st.none(), st.integers(30, 200)),
       st.one_of(st.none(), st.integers(0, 254)), st.one_of(st.none(), st.integers(0, 0x3F)),
       st.one_of(st.none(), st.datetimes(datetime(2020, 1, 1), datetime(2099, 12, 31))),
       st.booleans())
def test_what_the_simulator_encodes_decodes_back(sys_: int, dia: int, pulse: int | None,
                                                 user: int | None, status: int | None,
                                                 when: datetime | None, beurer: bool) -> None:
    if dia > sys_:
        sys_, dia = dia, sys_
    when = when.replace(microsecond=0) if when else None
    m = Measurement(sys_, dia, mean=round((sys_ + 2 * dia) / 3), pulse=pulse, timestamp=when,
                    user_id=user, status=status)
    got = decode_measurement(encode_measurement(m, beurer=beurer),
                             big_endian_pulse_status=beurer, always_user_id=beurer)
    assert (got.systolic_mmhg, got.diastolic_mmhg, got.pulse_bpm, got.user_id, got.timestamp) \
        == (sys_, dia, pulse, user, when)


def _config(**extra: object) -> BpCuffConfig:
    return BpCuffConfig.model_validate({"type": "bp_cuff", "id": "cuff",
                                        "name_prefix": "A&D_UA-651BLE_", "scan_interval_s": 0.01,
                                        **extra})


def _records(n: int) -> list[bytes]:
    return [encode_measurement(Measurement(120 + i, 80, pulse=60 + i,
                                           timestamp=datetime(2026, 11, 24, 8, i, 0)))
            for i in range(n)]


async def _run(driver: BpCuffDriver, until: int, timeout: float = 5) -> list[DriverItem]:
    out: list[DriverItem] = []

    async def collect() -> None:
        async for item in driver:
            out.append(item)
            if sum(isinstance(i, Reading) for i in out) >= until:
                return

    await asyncio.wait_for(collect(), timeout)
    return out


async def test_stored_readings_arrive_after_connect_and_the_clock_is_set() -> None:
    memory = _records(3)
    cuffs: list[SimulatedCuff] = []

    async def factory() -> SimulatedCuff:
        cuffs.append(SimulatedCuff(memory))
        return cuffs[-1]

    out = await _run(BpCuffDriver(_config(), factory), until=3)
    readings = [i for i in out if isinstance(i, Reading)]
    assert [r.fields["systolic_mmhg"] for r in readings] == [120, 121, 122]
    assert readings[0].t == datetime.fromisoformat("2026-11-24T08:00:00+08:00").timestamp()
    assert cuffs[0].clock_written is not None and len(cuffs[0].clock_written) == 10


async def test_and_cuffs_take_their_clock_on_date_time() -> None:
    cuff = SimulatedCuff(_records(1), clock_characteristic=DATE_TIME)

    async def factory() -> SimulatedCuff:
        return cuff

    await _run(BpCuffDriver(_config(variant="and"), factory), until=1)
    assert cuff.clock_written is not None and len(cuff.clock_written) == 7
    assert DATE_TIME != CURRENT_TIME


async def test_link_lost_mid_transfer_loses_nothing_and_repeats_nothing() -> None:
    memory = _records(5)
    attempts = iter([SimulatedCuff(memory, drop_after=2),
                     SimulatedCuff(memory, fail_on_connect=True), SimulatedCuff(memory)])

    async def factory() -> SimulatedCuff:
        return next(attempts)

    out = await _run(BpCuffDriver(_config(), factory), until=5)
    readings = [i for i in out if isinstance(i, Reading)]
    assert [r.fields["systolic_mmhg"] for r in readings] == [120, 121, 122, 123, 124]
    kinds = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert kinds == ["device_fault", "device_recovered"]


async def test_a_record_sent_twice_is_kept_once() -> None:
    record = _records(1)[0]
    driver = BpCuffDriver(_config())
    assert len(driver.decode(record, 0.0)) == 1
    assert driver.decode(record, 1.0) == []
    assert driver.errors["duplicates"] == 1
    assert driver.decode(b"\x00\x01", 2.0) == [] and driver.errors["decode"] == 1


def test_config_needs_a_way_to_find_the_cuff() -> None:
    with pytest.raises(ValueError, match="address or its name_prefix"):
        BpCuffConfig.model_validate({"type": "bp_cuff", "id": "cuff"})
