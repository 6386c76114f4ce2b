"""What holding reading batches after their PUBACK costs the edge's outbox.

The agent's path for readings, on a real SQLite file with the outbox's durability settings
(WAL, synchronous FULL): put one batch (about 1 KB, ten readings), and every `--inflight`
batches peek and acknowledge them, as the publisher does. Measured in the same run:

- baseline: the batch deleted on its PUBACK (resend window 0);
- held: the batch kept for the 120 s window (an UPDATE instead of a DELETE, expiry on ack);
- reconnect: `resend_held` with a full window of held batches, and the first peek after it.

Both modes run alternately `--rounds` times (the disk is shared and noisy); medians shown.

    python bench/outbox_resend.py [--batches N] [--rounds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bedwatch import wire
from edge.outbox import Outbox, Priority

TOPIC = wire.readings_topic("bench-1")


def _payload(seq: int) -> bytes:
    return wire.encode(wire.ReadingBatch(agent="bench-1", seq=seq, readings=[
        wire.Reading(device="bed", kind="vitals", t=1_764_000_000.0 + seq + i / 10,
                     fields={"heart_rate_bpm": 60 + i, "breathing_rate_bpm": 14.5,
                             "movement": 0.25, "presence": True})
        for i in range(10)]))


def _cycle(path: Path, window_s: float, batches: int, inflight: int) -> dict[str, float]:
    """Put and acknowledge `batches` batches; return batches/s and how many are held."""
    box = Outbox(path, resend_window_s=window_s,
                 max_resend_messages=batches)
    payloads = [_payload(seq) for seq in range(batches)]
    start = time.perf_counter()
    for i, payload in enumerate(payloads, 1):
        box.put(TOPIC, payload, Priority.READINGS)
        if i % inflight == 0:
            box.ack([row.id for row in box.peek(inflight)])
    box.ack([row.id for row in box.peek(inflight)])
    elapsed = time.perf_counter() - start
    figures = {"batches_per_s": batches / elapsed, "held": float(box.held())}
    if box.held():
        start = time.perf_counter()
        resent = box.resend_held()
        first = box.peek(inflight)
        figures["reconnect_ms"] = (time.perf_counter() - start) * 1000
        figures["resent"] = float(resent)
        assert len(first) == min(inflight, resent)
    box.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=2000, help="Batches per mode.")
    parser.add_argument("--inflight", type=int, default=20, help="Batches per PUBACK round.")
    parser.add_argument("--rounds", type=int, default=3, help="Runs of each mode.")
    parser.add_argument("--json", type=Path, help="Write the figures to this file.")
    args = parser.parse_args()
    runs: dict[float, list[dict[str, float]]] = {0.0: [], 120.0: []}
    with tempfile.TemporaryDirectory(prefix="bw-outbox-bench-") as tmp:
        for n in range(args.rounds):
            for window_s, figures in runs.items():
                path = Path(tmp) / f"outbox-{window_s:g}-{n}.sqlite"
                figures.append(_cycle(path, window_s, args.batches, args.inflight))
    baseline, held = ({key: statistics.median(f[key] for f in figures) for key in figures[0]}
                      for figures in runs.values())
    table = Table(title=f"outbox: {args.batches} reading batches, PUBACK every "
                        f"{args.inflight} (real SQLite file, synchronous FULL), median of "
                        f"{args.rounds}")
    for column in ("mode", "batches/s", "× baseline", "held after", "reconnect"):
        table.add_column(column, justify="right")
    table.add_row("deleted on PUBACK (baseline)", f"{baseline['batches_per_s']:,.0f}", "1.00",
                  "0", "-")
    table.add_row("held 120 s", f"{held['batches_per_s']:,.0f}",
                  f"{held['batches_per_s'] / baseline['batches_per_s']:.2f}",
                  f"{held['held']:,.0f}",
                  f"{held['resent']:,.0f} re-queued + first peek in "
                  f"{held['reconnect_ms']:.1f} ms")
    Console().print(table)
    if args.json:
        args.json.write_text(json.dumps({"batches": args.batches, "inflight": args.inflight,
                                         "rounds": args.rounds, "baseline": baseline, "held": held,
                                         "ratio": held["batches_per_s"]
                                         / baseline["batches_per_s"]}, indent=2))


if __name__ == "__main__":
    main()
