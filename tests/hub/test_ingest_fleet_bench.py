"""The fleet bench runs end to end on a small fleet and reports every figure it promises
(`bench/fleet.py --homes 20 --duration 5`): a smoke test of the tool, not a measurement."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_fleet_bench_reports_backlog_cpu_memory_and_page_latency(tmp_path: Path) -> None:
    """Proves: a run against real servers and a real hub gives the backlog, CPU, RSS and
    call → page figures, with every idle call paged and every reading batch taken."""
    out = tmp_path / "fleet.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fleet.py"), "--homes", "20", "--duration", "5",
         "--calls", "3", "--generators", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    print({k: figures[k] for k in ("published", "hub_taken_messages",
                                   "backlog_growth_second_half", "hub_cpu_share_of_one_core",
                                   "hub_peak_rss_mb", "idle_call_to_page_ms",
                                   "load_call_to_page_ms")})
    assert figures["homes"] == 20
    published = figures["published"]
    assert published["readings"] >= 20 * 3  # at least three seconds of batches from every home
    assert published["acked"] == published["readings"] + published["events"] + \
        published["statuses"]
    assert figures["hub_taken_readings_messages"] == published["readings"]
    assert figures["hub_taken_messages"] >= published["acked"]
    assert figures["backlog_samples"], "no backlog sample"
    assert figures["hub_cpu_s"] > 0 and figures["hub_peak_rss_mb"] > 0
    idle = figures["idle_call_to_page_ms"]
    assert idle["n"] == 3 and idle["lost"] == 0 and idle["p99"] > 0
    assert figures["load_call_to_page_ms"]["n"] >= 1
    assert figures["hub_rejected"] == {}
