"""The summary plot of `bedwatch eval`: one PNG beside the JSON, for a reader who has a minute.

Three panels: heart-rate error against the estimator's quality (every still window of the
sensor sessions, coloured by sensor kind: quality should predict error), detection latency
per event kind (median and 95th percentile), and false alerts per bed-day per kind against
the target for all kinds together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

FALSE_ALERT_TARGET = 0.1  # per bed-day, all kinds together


def summary_plot(figures: dict[str, Any], path: Path, *, title: str = "bedwatch eval") -> Path:
    """Draw the three panels for one part's figures (as `score` returns them) into `path`."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file for CI, a report or a phone
    import matplotlib.pyplot as plt

    fig, (quality_ax, latency_ax, false_ax) = plt.subplots(1, 3, figsize=(16, 5.2))
    fig.suptitle(title)

    pairs = (figures.get("sensors") or {}).get("quality_error", [])
    for sensor in sorted({p[2] for p in pairs}):
        mine = [p for p in pairs if p[2] == sensor]
        quality_ax.scatter([p[0] for p in mine], [p[1] for p in mine], s=10, alpha=0.6,
                           label=sensor)
    quality_ax.axhline(10, color="grey", linestyle="--", linewidth=0.8)
    quality_ax.set(xlabel="quality", ylabel="|HR error| (bpm)",
                   title="heart rate: error against quality")
    if pairs:
        quality_ax.legend(fontsize=8)
    else:
        quality_ax.text(0.5, 0.5, "no sensor sessions", ha="center",
                        transform=quality_ax.transAxes)

    detectors = figures.get("detectors", {})
    kinds = [k for k, f in detectors.items() if f.get("latency_p50_s") is not None]
    p50 = [detectors[k]["latency_p50_s"] for k in kinds]
    p95 = [detectors[k]["latency_p95_s"] for k in kinds]
    latency_ax.barh(kinds, p95, color="#c8d8ec", label="p95")
    latency_ax.barh(kinds, p50, color="#2f6db5", label="p50")
    latency_ax.set_xscale("symlog", linthresh=1.0)
    latency_ax.set(xlabel="seconds after it happened", title="latency per kind")
    latency_ax.legend(fontsize=8)
    latency_ax.tick_params(axis="y", labelsize=8)

    names = list(detectors)
    rates = [detectors[k]["false_alerts_per_bed_day"] for k in names]
    false_ax.barh(names, rates, color=["#b5332f" if r else "#9bbf85" for r in rates])
    total = figures.get("false_alerts_per_bed_day")
    false_ax.axvline(FALSE_ALERT_TARGET, color="black", linestyle="--", linewidth=0.8,
                     label=f"target, all kinds: {FALSE_ALERT_TARGET}")
    false_ax.set(xlabel="false alerts per bed-day",
                 title=f"false alerts (all kinds: {total} per bed-day)")
    false_ax.legend(fontsize=8)
    false_ax.tick_params(axis="y", labelsize=8)

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
