"""The blood-pressure cuff: golden bytes from the makers' documents and code, hostile bytes,
and the driver against simulated cuffs that keep a memory (live push, A&D, RACP, enhanced)."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.drivers.ble_bps import (
    BLOOD_PRESSURE_MEASUREMENT,
    BLOOD_PRESSURE_RECORD,
    DATE_TIME,
    ENHANCED_BLOOD_PRESSURE_MEASUREMENT,
    PULSE_BPM,
    RECORD_ACCESS_CONTROL_POINT,
    SYSTOLIC_MMHG,
    BloodPressureMeasurement,
    CuffDataError,
    RecordAssembler,
    decode_cuff_pressure,
    decode_enhanced_measurement,
    decode_features,
    decode_measurement,
    decode_racp_response,
    decode_record_segment,
    racp_report_all,
    racp_report_from,
    sfloat,
)
from edge.drivers.bp_cuff import AND_CUSTOM, AND_REQUEST_MEMORY, BpCuffConfig, BpCuffDriver
from edge.items import DeviceEvent, DeviceHealth, DriverItem, Observation
from firmware_sim.bp_cuff import (
    CuffMemory,
    Measurement,
    SimulatedCuff,
    encode_enhanced_measurement,
    encode_measurement,
    encode_record,
)
from tests.drivers.golden import cases, describe

CASES = cases(__file__)
MEASUREMENT_CASES = [c for c in CASES if (c / "input.hex").exists()]
EXCHANGE_CASES = [c for c in CASES if (c / "exchange.json").exists()]
DECODERS: dict[str, Callable[[bytes], BloodPressureMeasurement]] = {
    "2A35": decode_measurement, "2B34": decode_enhanced_measurement}
SHANGHAI = timedelta(hours=8)


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize("case", MEASUREMENT_CASES, ids=[c.name for c in MEASUREMENT_CASES])
def test_golden_measurement(case: Path) -> None:
    data = _hex((case / "input.hex").read_text())
    expected = json.loads((case / "expected.json").read_text())
    assert expected["source"]  # every case names the document or code it comes from
    decode = DECODERS[expected["characteristic"]]
    if "error" in expected:
        with pytest.raises(CuffDataError, match=expected["error"]) as caught:
            decode(data)
        assert caught.value.reason == expected["reason"]
        return
    m = decode(data)
    got = {**m.__dict__, "timestamp": m.timestamp.isoformat() if m.timestamp else None}
    assert got == expected["measurement"]


class ScriptedCuff:
    """A cuff that answers one RACP request with the indications a case lists."""

    UUIDS: ClassVar[dict[str, str]] = {"2B36": BLOOD_PRESSURE_RECORD,
                                       "2A52": RECORD_ACCESS_CONTROL_POINT}

    def __init__(self, script: dict[str, object]) -> None:
        self.script = script
        self.connected = False
        self.callbacks: dict[str, Callable[[bytes], None]] = {}
        self.written: list[bytes] = []

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self) -> None:
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False

    def has_characteristic(self, uuid: str) -> bool:
        return uuid in (BLOOD_PRESSURE_MEASUREMENT, BLOOD_PRESSURE_RECORD,
                        RECORD_ACCESS_CONTROL_POINT)

    async def read_gatt_char(self, uuid: str) -> bytes:
        raise OSError("nothing readable")

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool = True) -> None:
        assert uuid == RECORD_ACCESS_CONTROL_POINT
        self.written.append(bytes(data))
        for name, value in self.script["cuff_indicates"]:  # type: ignore[attr-defined]
            self.callbacks[self.UUIDS[name]](_hex(value))
        self.connected = False

    async def start_notify(self, uuid: str, callback: Callable[[bytes], None]) -> None:
        self.callbacks[uuid] = callback


@pytest.mark.parametrize("case", EXCHANGE_CASES, ids=[c.name for c in EXCHANGE_CASES])
async def test_golden_racp_exchange(case: Path, tmp_path: Path) -> None:
    script = json.loads((case / "exchange.json").read_text())
    (tmp_path / "cuff.json").write_text(json.dumps(
        {"v": 1, "last_sequence": script["last_sequence_before"], "seen": []}))
    cuff = ScriptedCuff(script)

    async def factory() -> ScriptedCuff | None:
        return cuff if not cuff.written else None

    driver = BpCuffDriver(_config(state_dir=str(tmp_path)), factory)
    out = await _sessions(driver, 1)
    assert cuff.written == [_hex(script["host_writes"])]
    readings = [i for i in out if isinstance(i, Observation)]
    expected = script["expected"]
    assert [describe(r) for r in readings] == [
        {k: v for k, v in e.items() if k != "t"} for e in expected["readings"]]
    assert [r.t for r in readings] == [
        datetime.fromisoformat(e["t"]).timestamp() for e in expected["readings"]]
    assert json.loads((tmp_path / "cuff.json").read_text())["last_sequence"] == \
        expected["last_sequence_after"]


def test_sfloat_reference_values() -> None:
    assert sfloat(0xF488) == 116.0  # the reference example: mantissa 1160, exponent -1
    assert sfloat(0x0FFF) == -1.0  # negative mantissa
    for special in (0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801):
        assert sfloat(special) is None


@pytest.mark.parametrize("raw", [0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801])
def test_special_sfloat_pulse_and_map_are_no_value(raw: int) -> None:
    # flags: pulse present; MAP and pulse carry the special value
    m = decode_measurement(struct.pack("<BHHHH", 0x04, 124, 86, raw, raw))
    assert (m.mean_arterial_mmhg, m.pulse_bpm) == (None, None)
    with pytest.raises(CuffDataError) as caught:
        decode_measurement(struct.pack("<BHHH", 0x00, raw, 86, 97))
    assert caught.value.reason == "no_value"


@pytest.mark.parametrize(("values", "message"), [
    ((400, 86, 97), "systolic 400"), ((124, 10, 97), "diastolic 10"),
    ((120, 120, 120), "not below systolic"), ((124, 86, 150), "mean arterial pressure 150")])
def test_pressures_out_of_range_are_rejected(values: tuple[int, int, int], message: str) -> None:
    with pytest.raises(CuffDataError, match=message) as caught:
        decode_measurement(struct.pack("<BHHH", 0, *values))
    assert caught.value.reason == "out_of_range"


@pytest.mark.parametrize("stamp", [(2024, 6, 15, 24, 0, 0), (2024, 6, 15, 17, 60, 0),
                                   (2024, 6, 15, 17, 0, 60), (2024, 2, 30, 8, 0, 0),
                                   (1000, 6, 15, 8, 0, 0), (2024, 6, 32, 8, 0, 0)])
def test_time_stamp_fields_are_range_checked(stamp: tuple[int, ...]) -> None:
    with pytest.raises(CuffDataError, match="invalid time stamp") as caught:
        decode_measurement(struct.pack("<BHHHHBBBBB", 0x02, 124, 86, 97, *stamp))
    assert caught.value.reason == "time_stamp"


def test_feature_and_cuff_pressure() -> None:
    assert decode_features(struct.pack("<H", 0b1_0010_0101)) == {
        "body_movement_detection": True, "cuff_fit_detection": False,
        "irregular_pulse_detection": True, "pulse_rate_range_detection": False,
        "measurement_position_detection": False, "multiple_bonds": True, "e2e_crc": False,
        "user_data_service": False, "user_facing_time": True}
    assert decode_cuff_pressure(bytes.fromhex("00 a0 00 ff 07 ff 07")) == 160.0
    with pytest.raises(CuffDataError):
        decode_features(b"\x01")


def test_racp_request_and_response_bytes() -> None:
    assert racp_report_all() == _hex("01 01")
    assert racp_report_from(0x0102) == _hex("01 03 01 02 01")
    # Nordic's RACP test vectors: success, and "no records found"
    assert decode_racp_response(_hex("06 00 01 01")).code == 1
    assert decode_racp_response(_hex("06 00 01 06")).code == 6
    for bad in (b"", _hex("01 01"), _hex("06 01 01"), _hex("05 00 01 01"), _hex("06 01 01 01")):
        with pytest.raises(CuffDataError):
            decode_racp_response(bad)


def test_record_segments_rejoin_and_a_broken_record_does_not_block_the_next() -> None:
    value = encode_measurement(Measurement(124, 86, 97, pulse=51,
                                           timestamp=datetime(2024, 6, 15, 17, 17, 27),
                                           status=0))
    segments = encode_record(7, 0x2A35, value)
    assert len(segments) == 2 and all(len(s) <= 20 for s in segments)
    assembler = RecordAssembler()
    with pytest.raises(CuffDataError, match="out of order"):
        assembler.feed(decode_record_segment(segments[1]))  # the first one was lost
    assert assembler.feed(decode_record_segment(segments[0])) is None
    assert assembler.feed(decode_record_segment(segments[1])) == (7, 0x2A35, value)
    # E2E-CRC announced: two bytes at the end of the last segment are not the measurement
    crc = decode_record_segment(segments[1] + b"\xaa\xbb", e2e_crc=True)
    assert crc.payload == decode_record_segment(segments[1]).payload


HOSTILE = [
    (b"", "truncated"),
    (_hex("16 7C 00 56 00 61 00 E8 07 06 0F"), "truncated"),
    (_hex("FF 7C 00 56 00 61 00 E8 07 06 0F 11 11 1B"), "truncated"),  # every flag, too few
    (b"\xff" * 1024, "out_of_range"),  # 1 KB of junk
    (_hex("14 87 00 4F 00 FF 07 00 48 01 00 04"), "out_of_range"),  # pulse -20,480,000 bpm
    (_hex("00 FF 07 56 00 61 00"), "no_value"),
    (_hex("02 7C 00 56 00 61 00 E8 07 0D 0F 11 11 1B"), "time_stamp"),
]


def test_hostile_values_are_counted_rejections_and_the_next_good_one_decodes() -> None:
    driver = BpCuffDriver(_config())
    good = _hex("16 7C 00 56 00 61 00 E8 07 06 0F 11 11 1B 33 00 00 00")
    for data, reason in HOSTILE:
        assert driver.decode(data, 1.0) == []
        assert driver.errors[f"rejected_{reason}"] >= 1
    assert driver.errors["decode"] == len(HOSTILE)
    (reading,) = driver.decode(good, 2.0)
    assert isinstance(reading, Observation) and reading.fields["pulse_bpm"] == 51.0


@settings(max_examples=300)
@given(st.binary(max_size=1100))
def test_random_bytes_raise_only_the_documented_error(data: bytes) -> None:
    for decode in (decode_measurement, decode_enhanced_measurement):
        try:
            m = decode(data)
        except CuffDataError:
            continue
        assert SYSTOLIC_MMHG[0] <= m.systolic_mmhg <= SYSTOLIC_MMHG[1]
        assert m.diastolic_mmhg < m.systolic_mmhg
        assert m.pulse_bpm is None or PULSE_BPM[0] <= m.pulse_bpm <= PULSE_BPM[1]
    for segment in (lambda d: decode_record_segment(d, e2e_crc=True), decode_racp_response):
        try:
            segment(data)
        except CuffDataError:
            pass


@given(st.integers(60, 250), st.integers(30, 140), st.one_of(st.none(), st.integers(30, 200)),
       st.one_of(st.none(), st.integers(0, 254)), st.one_of(st.none(), st.integers(0, 0x3F)),
       st.one_of(st.none(), st.datetimes(datetime(2001, 1, 1), datetime(2099, 12, 31))))
def test_what_the_simulator_encodes_decodes_back(sys_: int, dia: int, pulse: int | None,
                                                 user: int | None, status: int | None,
                                                 when: datetime | None) -> None:
    if dia >= sys_:
        sys_, dia = dia + 1, sys_
    when = when.replace(microsecond=0) if when else None
    m = Measurement(sys_, dia, mean=None, pulse=pulse, timestamp=when, user_id=user,
                    status=status)
    got = decode_measurement(encode_measurement(m))
    assert (got.systolic_mmhg, got.diastolic_mmhg, got.pulse_bpm, got.user_id, got.timestamp,
            got.status) == (sys_, dia, pulse, user, when, status)
    enhanced = decode_enhanced_measurement(encode_enhanced_measurement(m))
    assert (enhanced.systolic_mmhg, enhanced.pulse_bpm, enhanced.status) == (sys_, pulse, status)
    if when is not None:
        assert enhanced.timestamp == when.replace(tzinfo=UTC) - SHANGHAI


# -- the driver against simulated cuffs ---------------------------------------------------


def _config(**extra: object) -> BpCuffConfig:
    return BpCuffConfig.model_validate({"type": "bp_cuff", "id": "cuff",
                                        "name_prefix": "A&D_UA-651BLE_", "scan_interval_s": 0.01,
                                        **extra})


def _measurements(n: int, start: datetime = datetime(2026, 11, 24, 8, 0)) -> list[Measurement]:
    # twice a day, as a resident measuring morning and evening
    return [Measurement(120 + i, 80, pulse=60 + i, timestamp=start + timedelta(hours=12 * i))
            for i in range(n)]


def _factory(cuffs: list[SimulatedCuff]) -> Callable[[], asyncio.Future[SimulatedCuff | None]]:
    queue = list(cuffs)

    async def factory() -> SimulatedCuff | None:
        return queue.pop(0) if queue else None

    return factory  # type: ignore[return-value]


async def _sessions(driver: BpCuffDriver, sessions: int, timeout: float = 5) -> list[DriverItem]:
    """Run the driver until `sessions` connections have ended."""
    out: list[DriverItem] = []

    async def collect() -> None:
        async for item in driver:
            out.append(item)
            ended = [i for i in out if isinstance(i, DeviceHealth) and not i.connected]
            if len(ended) >= sessions:
                return

    await asyncio.wait_for(collect(), timeout)
    return out


def _systolic(items: list[DriverItem]) -> list[float]:
    return [float(i.fields["systolic_mmhg"]) for i in items if isinstance(i, Observation)]


async def test_stored_readings_arrive_after_connect_and_the_clock_is_set() -> None:
    cuff = SimulatedCuff(CuffMemory(_measurements(3)))
    out = await _sessions(BpCuffDriver(_config(), _factory([cuff])), 1)
    readings = [i for i in out if isinstance(i, Observation)]
    assert _systolic(out) == [120, 121, 122]
    assert readings[0].t == datetime.fromisoformat("2026-11-24T08:00:00+08:00").timestamp()
    assert cuff.clock_written is not None and len(cuff.clock_written) == 10


async def test_and_cuff_gets_its_memory_request_and_clock_then_repeats_are_dropped() -> None:
    memory = CuffMemory(_measurements(3))
    first = SimulatedCuff(memory, kind="and")
    # Next time it sends its whole memory again, plus the one reading taken since.
    second = SimulatedCuff(memory, kind="and", resend_all_on_request=True)
    driver = BpCuffDriver(_config(variant="and"), _factory([first, second]))
    out = await _sessions(driver, 1)
    memory.records += _measurements(1, datetime(2026, 11, 26, 8, 0))
    out += await _sessions(driver, 1)
    assert first.custom_writes == [AND_REQUEST_MEMORY] and AND_CUSTOM != DATE_TIME
    assert first.clock_written is not None and len(first.clock_written) == 7
    assert _systolic(out) == [120, 121, 122, 120]  # the new reading, once; nothing twice
    assert driver.errors["duplicates"] == 3


async def test_link_lost_mid_transfer_loses_nothing_and_repeats_nothing() -> None:
    memory = CuffMemory(_measurements(5))
    cuffs = [SimulatedCuff(memory, drop_after=2), SimulatedCuff(memory, fail_on_connect=True),
             SimulatedCuff(memory)]
    out = await _sessions(BpCuffDriver(_config(), _factory(cuffs)), 3)
    assert _systolic(out) == [120, 121, 122, 123, 124]
    kinds = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert kinds == ["device_fault", "device_recovered"]


async def test_racp_cuff_gives_a_week_taken_while_the_pi_was_off_once(tmp_path: Path) -> None:
    week = _measurements(14)
    memory = CuffMemory(week[:13], first_sequence=100)
    live = week[13]  # measured while connected: indicated, and also in the stored records
    cuff = SimulatedCuff(memory, kind="racp", live=[live])
    out = await _sessions(BpCuffDriver(_config(state_dir=str(tmp_path)), _factory([cuff])), 1)
    assert sorted(_systolic(out)) == [120 + i for i in range(14)]
    assert cuff.racp_requests == [racp_report_all()]
    assert ENHANCED_BLOOD_PRESSURE_MEASUREMENT not in cuff.subscribed
    # The agent restarts; two more readings are taken; only those are fetched and read.
    memory.records += _measurements(2, datetime(2026, 12, 1, 8, 0))
    again = SimulatedCuff(memory, kind="racp")
    restarted = BpCuffDriver(_config(state_dir=str(tmp_path)), _factory([again]))
    out = await _sessions(restarted, 1)
    assert again.racp_requests == [racp_report_from(memory.sequence(14))]
    assert _systolic(out) == [120, 121]
    assert restarted.errors["duplicates"] == 0


async def test_racp_sequence_numbers_that_wrap_lose_nothing_and_repeat_nothing(
        tmp_path: Path) -> None:
    memory = CuffMemory(_measurements(6), first_sequence=65532)  # 65532 ... 65535, 0, 1
    await _sessions(BpCuffDriver(_config(state_dir=str(tmp_path)), _factory(
        [SimulatedCuff(memory, kind="racp")])), 1)
    memory.records += _measurements(1, datetime(2026, 12, 1, 8, 0))
    again = SimulatedCuff(memory, kind="racp")
    out = await _sessions(BpCuffDriver(_config(state_dir=str(tmp_path)), _factory([again])), 1)
    # ">= 2" also matches the old 65532-65535: they are recognised and dropped
    assert again.racp_requests == [racp_report_from(2)]
    assert _systolic(out) == [120]


async def test_racp_without_sequence_filter_falls_back_to_all_and_drops_repeats(
        tmp_path: Path) -> None:
    memory = CuffMemory(_measurements(4))
    driver = BpCuffDriver(_config(state_dir=str(tmp_path)), _factory(
        [SimulatedCuff(memory, kind="racp", racp_filters=False)]))
    await _sessions(driver, 1)
    memory.records += _measurements(1, datetime(2026, 12, 1, 8, 0))
    again = SimulatedCuff(memory, kind="racp", racp_filters=False)
    restarted = BpCuffDriver(_config(state_dir=str(tmp_path)), _factory([again]))
    out = await _sessions(restarted, 1)
    assert again.racp_requests == [racp_report_from(4), racp_report_all()]
    assert _systolic(out) == [120]
    assert restarted.errors["duplicates"] == 4


async def test_enhanced_cuff_is_read_on_0x2b34_with_its_utc_time_stamp() -> None:
    memory = CuffMemory(_measurements(2))
    cuff = SimulatedCuff(memory, kind="racp", enhanced=True, live=_measurements(
        1, datetime(2026, 11, 25, 21, 0)))
    out = await _sessions(BpCuffDriver(_config(), _factory([cuff])), 1)
    assert ENHANCED_BLOOD_PRESSURE_MEASUREMENT in cuff.subscribed
    assert BLOOD_PRESSURE_MEASUREMENT not in cuff.subscribed  # each reading arrives once
    readings = sorted((i for i in out if isinstance(i, Observation)), key=lambda r: r.t)
    assert [r.t for r in readings] == [
        datetime.fromisoformat(s).timestamp() for s in
        ("2026-11-24T08:00:00+08:00", "2026-11-24T20:00:00+08:00", "2026-11-25T21:00:00+08:00")]


def test_the_same_reading_by_0x2a35_and_by_0x2b34_is_one_reading() -> None:
    m = _measurements(1)[0]
    driver = BpCuffDriver(_config())
    assert len(driver.decode_enhanced(encode_enhanced_measurement(m), 0.0)) == 1
    assert driver.decode(encode_measurement(m), 1.0) == []
    assert driver.errors["duplicates"] == 1


def test_readings_without_a_time_stamp_are_never_merged() -> None:
    value = encode_measurement(Measurement(124, 86, pulse=60))
    driver = BpCuffDriver(_config())
    assert len(driver.decode(value, 0.0)) == 1 and len(driver.decode(value, 60.0)) == 1


async def test_omron_style_cuff_that_sends_only_its_latest_reading() -> None:
    cuff = SimulatedCuff(CuffMemory(_measurements(3)), only_latest=True)
    out = await _sessions(BpCuffDriver(_config(), _factory([cuff])), 1)
    assert _systolic(out) == [122]
    assert RECORD_ACCESS_CONTROL_POINT not in cuff.subscribed


async def test_junk_from_the_cuff_is_counted_and_its_memory_still_arrives() -> None:
    cuff = SimulatedCuff(CuffMemory(_measurements(2)), raw_before=[b"", b"\xff" * 1024])
    driver = BpCuffDriver(_config(), _factory([cuff]))
    out = await _sessions(driver, 1)
    assert _systolic(out) == [120, 121]
    assert driver.errors["rejected_truncated"] == 1 and driver.errors["rejected_out_of_range"] == 1
    health = [i for i in out if isinstance(i, DeviceHealth)][-1]
    assert health.errors["decode"] == 2


def test_a_repeat_is_recognised_after_an_agent_restart(tmp_path: Path) -> None:
    value = encode_measurement(_measurements(1)[0])
    first = BpCuffDriver(_config(state_dir=str(tmp_path)))
    assert len(first.decode(value, 0.0)) == 1
    first.state.save()
    restarted = BpCuffDriver(_config(state_dir=str(tmp_path)))
    assert restarted.decode(value, 1.0) == []
    assert len(BpCuffDriver(_config()).decode(value, 1.0)) == 1  # without the state file


async def test_a_reading_is_marked_delivered_only_after_it_is_handed_on(tmp_path: Path) -> None:
    cuff = SimulatedCuff(CuffMemory(_measurements(2)))
    driver = BpCuffDriver(_config(state_dir=str(tmp_path)), _factory([cuff]))
    items = driver.__aiter__()
    item = await items.__anext__()
    while not isinstance(item, Observation):
        item = await items.__anext__()
    state = tmp_path / "cuff.json"
    assert not state.exists()  # crash now, and the cuff's next dump delivers it again
    await items.__anext__()
    assert len(json.loads(state.read_text())["seen"]) == 1
    await items.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("content", ["{", '{"v": 1}', '{"v": 1, "last_sequence": 70000, '
                                     '"seen": []}', '[1, 2]', '{"v": 1, "last_sequence": null, '
                                     '"seen": [1]}'])
def test_an_unreadable_state_file_is_counted_and_the_driver_still_works(
        tmp_path: Path, content: str) -> None:
    (tmp_path / "cuff.json").write_text(content)
    driver = BpCuffDriver(_config(state_dir=str(tmp_path)))
    assert driver.errors["state"] == 1 and driver.state.last_sequence is None
    assert len(driver.decode(encode_measurement(_measurements(1)[0]), 0.0)) == 1


@pytest.mark.parametrize(("extra", "message"), [
    ({"name_prefix": None}, "address or its name_prefix"),
    ({"variant": "beurer"}, "variant"),
    ({"state_dir": "state"}, "absolute"),
    ({"timezone": "Mars/Olympus"}, "unknown time zone")])
def test_config_rejects_what_cannot_work(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _config(**extra)

