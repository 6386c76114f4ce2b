"""The agent routes driver items, supervises each device's cadence and survives bad items."""

from __future__ import annotations

import json
from pathlib import Path

from edge.agent import Agent
from edge.config import AgentConfig
from edge.items import DeviceEvent, DeviceHealth, Observation
from edge.outbox import Priority


class Clock:
    def __init__(self) -> None:
        self.t = 1_764_000_000.0

    def __call__(self) -> float:
        return self.t


def _agent(tmp_path: Path, clock: Clock) -> Agent:
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "devices": [{"type": "call_button", "id": "btn", "port": "x", "silent_after_s": 30},
                    {"type": "bed_sensor", "id": "bed", "port": "y", "silent_after_s": 10}]})
    return Agent(config, clock=clock, monotonic=clock)


def _events(agent: Agent) -> list[tuple[str, str]]:
    rows = [r for r in agent.outbox.peek(1000) if r.topic.endswith("/events")]
    return [(json.loads(r.payload)["kind"], json.loads(r.payload)["device"]) for r in rows]


def test_a_device_that_misses_its_cadence_is_reported_once_and_on_return(
        tmp_path: Path) -> None:
    clock = Clock()
    agent = _agent(tmp_path, clock)
    agent.supervise()
    clock.t += 9
    agent.handle(Observation("bed", "bed", clock.t, {"load_kg": 40.0}))
    clock.t += 10.5
    agent.supervise()
    assert _events(agent) == [("device_silent", "bed")]  # 10.5 s after its last sample
    clock.t += 20
    agent.supervise()
    agent.supervise()
    assert sorted(_events(agent)) == [("device_silent", "bed"), ("device_silent", "btn")]
    agent.handle(Observation("bed", "bed", clock.t, {"load_kg": 40.0}))
    assert _events(agent)[-1] == ("device_recovered", "bed")


def test_a_driver_reporting_its_own_fault_does_not_count_as_alive(tmp_path: Path) -> None:
    clock = Clock()
    agent = _agent(tmp_path, clock)
    agent.supervise()
    clock.t += 31
    agent.handle(DeviceEvent("btn", "device_fault", clock.t, {"reason": "unplugged"}))
    agent.supervise()
    assert ("device_silent", "btn") in _events(agent)


def test_calls_jump_the_queue_and_bad_items_are_dropped_loudly(tmp_path: Path) -> None:
    clock = Clock()
    agent = _agent(tmp_path, clock)
    for i in range(50):
        agent.handle(Observation("bed", "bed", clock.t + i, {"load_kg": 40.0 + i}))
    agent.flush_readings()
    agent.handle(Observation("bed", "bed", clock.t, {"Bad Name": 1.0}))  # breaks the contract
    agent.handle(DeviceEvent("btn", "call", clock.t, {"button": 7}))
    first = agent.outbox.peek(1)[0]
    assert first.priority == Priority.LIFE_SAFETY
    assert json.loads(first.payload)["kind"] == "call"
    assert agent.counters["invalid_items"] == 1
    batch = json.loads(next(r for r in agent.outbox.peek(10) if r.topic.endswith("readings"))
                       .payload)
    assert len(batch["readings"]) == 50


def test_the_agent_runs_its_detectors_on_what_the_bed_board_sends(tmp_path: Path) -> None:
    import numpy as np

    from edge.items import SampleBlock
    from firmware_sim.physiology import Resident, Segment, render_bed

    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "devices": [{"type": "bed_sensor", "id": "bed", "port": "y"}],
        "detectors": {"occupancy": {"resident_weight_kg": 66}}})
    agent = Agent(config, clock=Clock())
    rec = render_bed([Segment("empty", 30), Segment("lying_down", 4), Segment("lying", 60),
                      Segment("getting_up", 3), Segment("empty", 20)],
                     Resident(weight_kg=70), 25.0, np.random.default_rng(1), t0=1_772_366_400.0)
    for s in range(0, len(rec.samples), 25):
        agent.handle(SampleBlock("bed", rec.t0 + s / 25, 25.0, rec.samples[s:s + 25]))
    agent.flush_readings()
    assert ("bed_exit", "bed") in _events(agent)
    readings = [json.loads(r.payload) for r in agent.outbox.peek(1000)
                if r.topic.endswith("/readings")]
    kinds = {reading["kind"] for batch in readings for reading in batch["readings"]}
    assert {"occupancy", "vitals"} <= kinds


# -- a wrong wall clock flags, never drops ------------------------------------------------------

def _payloads(agent: Agent, suffix: str = "/events") -> list[dict]:
    return [json.loads(r.payload) for r in agent.outbox.peek(1000) if r.topic.endswith(suffix)]


def test_a_call_stamped_1970_by_an_unsynchronised_pi_is_carried_flagged(tmp_path: Path) -> None:
    clock = Clock()
    clock.t = 12.5  # booted without RTC and without time sync
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "devices": [{"type": "call_button", "id": "btn", "port": "x"}]})
    agent = Agent(config, clock=clock, monotonic=clock, clock_synced=lambda: False)
    agent.handle(DeviceEvent("btn", "call", clock.t, {"button": 7}))
    agent.handle(DeviceEvent("btn", "call", float("nan"), {"button": 7}))
    agent.handle(Observation("btn", "call_button", clock.t, {"button": 7}))
    agent.flush_readings()
    calls = [p for p in _payloads(agent) if p["kind"] == "call"]
    print(f"calls sent 2, stored {len(calls)}, readings dropped "
          f"{agent.counters['readings_bad_clock']}, invalid {agent.counters['invalid_items']}")
    assert len(calls) == 2
    assert all(c["clock_untrusted"] for c in calls)
    assert calls[0]["t"] == 12.5  # the edge's time is kept as sent; the hub uses its own
    assert calls[1]["data"]["edge_t_raw"] == "nan"
    assert agent.counters["invalid_items"] == 0
    assert agent.counters["readings_bad_clock"] == 1 and _payloads(agent, "/readings") == []
    status = json.loads(agent._status_payload())
    assert {"clock", "readings_bad_clock"} <= set(status["degraded"])
    agent.handle(DeviceHealth("btn", clock.t, connected=True))
    [device] = _payloads(agent, "/status")
    assert device["errors"]["readings_bad_clock"] == 1


def test_a_plausible_time_from_an_unsynchronised_clock_is_still_flagged(tmp_path: Path) -> None:
    clock = Clock()
    synced: list[bool | None] = [False]
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")}})
    agent = Agent(config, clock=clock, monotonic=clock, clock_synced=lambda: synced[0])
    agent.handle(DeviceEvent("btn", "fall", clock.t))
    synced[0] = None  # no time daemon to ask: a plausible time is trusted
    agent.handle(DeviceEvent("btn", "fall", clock.t))
    assert [p["clock_untrusted"] for p in _payloads(agent)] == [True, False]
    assert json.loads(agent._status_payload())["degraded"] == []


def test_a_clock_stepped_back_an_hour_does_not_hide_a_dead_device(tmp_path: Path) -> None:
    wall, mono = Clock(), Clock()
    config = AgentConfig.model_validate({
        "home": "home-1", "outbox": {"path": str(tmp_path / "o.sqlite")},
        "devices": [{"type": "bed_sensor", "id": "bed", "port": "y", "silent_after_s": 10}]})
    agent = Agent(config, clock=wall, monotonic=mono)
    agent.handle(Observation("bed", "bed", wall.t, {"load_kg": 40.0}))
    wall.t -= 3600  # time sync steps the wall clock back
    wall.t += 11
    mono.t += 11
    agent.supervise()
    silent = [p for p in _payloads(agent) if p["kind"] == "device_silent"]
    print(f"device_silent events after 11 s of silence: {len(silent)}")
    assert len(silent) == 1 and silent[0]["data"]["silent_for_s"] == 11.0


def test_a_failing_detector_does_not_stop_the_call(tmp_path: Path) -> None:
    clock = Clock()
    agent = _agent(tmp_path, clock)

    def broken(item: object) -> list:
        raise RuntimeError("detector bug")

    agent.detectors = [broken]
    agent.handle(DeviceEvent("btn", "call", clock.t, {"button": 7}))
    agent.handle(DeviceEvent("btn", "call", clock.t, {"button": 7}))
    assert [p["kind"] for p in _payloads(agent)] == ["call", "call"]
    assert agent.counters["detector_errors"] == 2


def test_evidence_that_breaks_the_contract_does_not_cost_the_call(tmp_path: Path) -> None:
    clock = Clock()
    agent = _agent(tmp_path, clock)
    agent.handle(DeviceEvent("btn", "call", clock.t, ["not", "a", "mapping"]))  # type: ignore[arg-type]
    [call] = _payloads(agent)
    assert call["kind"] == "call" and agent.counters["invalid_items"] == 0
