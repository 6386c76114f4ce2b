"""Dry contacts: debouncing on a fake clock, and the driver with a simulated pear push."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.contact import ContactState, Debouncer, DryContactConfig, DryContactDriver
from edge.items import DeviceEvent, DriverItem, Observation
from firmware_sim.contact import SimulatedContact
from tests.drivers.golden import cases, describe


def test_debouncer_needs_the_level_to_hold() -> None:
    d = Debouncer(0.05)
    assert d.update(False, 0.0) is None  # the first level too must hold
    assert d.update(False, 0.05) is False
    assert d.update(True, 1.00) is None
    assert d.update(True, 1.04) is None
    assert d.update(True, 1.05) is True
    assert d.update(True, 2.0) is None


@given(st.lists(st.floats(0.001, 0.049), min_size=1, max_size=20))
def test_bounces_shorter_than_the_hold_are_never_reported(pulses: list[float]) -> None:
    d = Debouncer(0.05)
    d.update(False, 0.0)
    d.update(False, 0.1)
    t = 1.0
    for width in pulses:
        assert d.update(True, t) is None
        assert d.update(True, t + width) is None
        t += width
        assert d.update(False, t) is None
        t += 0.1
    assert d.state is False


def _config(**extra: object) -> DryContactConfig:
    return DryContactConfig.model_validate({
        "type": "dry_contact", "id": "pear", "purpose": "call", "line": "cts",
        "port": "/dev/ttyUSB1", "poll_interval_s": 0.005, "debounce_s": 0.03,
        "reconnect_s": 0.05, **extra})


async def _run(driver: DryContactDriver, steps: list[tuple[float, object]]) -> list[DriverItem]:
    out: list[DriverItem] = []

    async def collect() -> None:
        async for item in driver:
            out.append(item)

    task = asyncio.create_task(collect())
    try:
        for delay, action in steps:
            await asyncio.sleep(delay)
            action()  # type: ignore[operator]
        await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return out


async def test_pear_push_press_bounce_and_cable_fault() -> None:
    contact = SimulatedContact()
    driver = DryContactDriver(_config(), reader_factory=lambda: contact)

    def unplug() -> None:
        contact.unplugged = True

    def replug() -> None:
        contact.unplugged = False

    out = await _run(driver, [
        (0.1, lambda: contact.bounce([True, False, True, False])),  # bounce: no call
        (0.1, contact.press), (0.2, contact.release),
        (0.1, unplug), (0.3, replug)])
    events = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert events == ["call", "device_fault", "device_recovered"]
    presses = [i.fields["pressed"] for i in out if isinstance(i, Observation)]
    assert presses == [False, True, False]


async def test_normally_closed_mat_reads_a_cut_wire_as_pressed() -> None:
    contact = SimulatedContact(normally_closed=True)
    driver = DryContactDriver(_config(purpose="floor_mat", normally_closed=True),
                              reader_factory=lambda: contact)

    def cut() -> None:
        contact.normally_closed = False  # the loop opens: the line reads as open

    out = await _run(driver, [(0.1, contact.press), (0.2, contact.release), (0.1, cut)])
    events = [i.kind for i in out if isinstance(i, DeviceEvent)]
    assert events == ["mat_pressed", "mat_released", "mat_pressed"]


def test_config_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="gpio_value_path"):
        DryContactConfig.model_validate({"type": "dry_contact", "id": "p", "purpose": "call",
                                         "line": "gpio"})
    with pytest.raises(ValueError, match="needs the serial adapter"):
        DryContactConfig.model_validate({"type": "dry_contact", "id": "p", "purpose": "call",
                                         "line": "dsr"})


def test_a_bed_pad_is_not_a_contact_purpose() -> None:
    # Bed presence comes from the bed board's load cells, which tell the resident from a
    # visitor; a pad's switch cannot, so no detector takes its presses.
    with pytest.raises(ValueError, match="'call' or 'floor_mat'"):
        DryContactConfig.model_validate({"type": "dry_contact", "id": "p", "purpose": "bed_pad",
                                         "line": "cts", "port": "/dev/ttyUSB0"})


@pytest.mark.parametrize("case", cases(__file__), ids=lambda c: c.name)
def test_golden_case(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    state = ContactState(_config(**expected["config"]))
    items: list[DriverItem] = []
    for line in (case / "input.csv").read_text().splitlines()[1:]:
        t, closed = line.split(",")
        items += state.step(float(t), closed.strip() == "1")
    assert [describe(i) for i in items] == expected["items"]
