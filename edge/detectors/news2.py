"""NEWS2, the National Early Warning Score (Royal College of Physicians, 2017), SpO2 scale 1,
and a detector that scores it from what a home measures.

From bed-side sensors alone some parameters are missing; the score then says it is partial.
The detector takes heart and breathing rate from the bed's `vitals` readings and the systolic
pressure from the cuff's `bp` readings, each only while recent; SpO2, temperature and
consciousness are never measured at home, so every score it gives is partial.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from edge.items import DetectorInput, DetectorOutput, DeviceEvent, Observation

# (upper bound inclusive, points), ascending; the last row catches everything above.
_RESPIRATION = [(8, 3), (11, 1), (20, 0), (24, 2), (float("inf"), 3)]
_SPO2 = [(91, 3), (93, 2), (95, 1), (float("inf"), 0)]
_SYSTOLIC = [(90, 3), (100, 2), (110, 1), (219, 0), (float("inf"), 3)]
_PULSE = [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (float("inf"), 3)]
_TEMPERATURE = [(35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (float("inf"), 2)]


@dataclass(frozen=True)
class News2:
    total: int
    per_parameter: dict[str, int | None]
    partial: bool
    risk: str  # low, low_medium, medium, high


def _points(value: float, table: list[tuple[float, int]]) -> int:
    return next(points for upper, points in table if value <= upper)


def score(respiration_rate: float | None = None, spo2: float | None = None,
          systolic: float | None = None, pulse: float | None = None,
          temperature: float | None = None, on_oxygen: bool | None = None,
          alert: bool | None = None) -> News2:
    """Return the NEWS2 score; missing parameters count 0 and make it partial."""
    per: dict[str, int | None] = {
        "respiration_rate": None if respiration_rate is None
        else _points(respiration_rate, _RESPIRATION),
        "spo2": None if spo2 is None else _points(spo2, _SPO2),
        "systolic": None if systolic is None else _points(systolic, _SYSTOLIC),
        "pulse": None if pulse is None else _points(pulse, _PULSE),
        "temperature": None if temperature is None else _points(temperature, _TEMPERATURE),
        "on_oxygen": None if on_oxygen is None else (2 if on_oxygen else 0),
        "consciousness": None if alert is None else (0 if alert else 3),
    }
    points = [p for p in per.values() if p is not None]
    total = sum(points)
    if total >= 7:
        risk = "high"
    elif total >= 5:
        risk = "medium"
    elif 3 in points:
        risk = "low_medium"
    else:
        risk = "low"
    return News2(total, per, any(p is None for p in per.values()), risk)


# -- the detector: NEWS2 from what a home has -------------------------------------------------

# What bed-side sensors cannot measure; every score from them is partial and says so.
NOT_MEASURED = ("spo2", "temperature", "consciousness", "on_oxygen")
PARTIAL_NOTE = ("partial NEWS2 from bed-side sensors alone: no SpO2, temperature, "
                "consciousness or supplemental oxygen")


class News2Config(BaseModel):
    """How a partial NEWS2 is scored and raised for one resident."""

    model_config = ConfigDict(extra="forbid")

    bed: str = Field("bed", description="The bed board whose `vitals` readings give heart and "
                                        "breathing rate.")
    cuff: str | None = Field(None, description="The blood-pressure cuff whose `bp` readings "
                                               "give the systolic pressure, if any.")
    vitals_max_age_s: float = Field(600.0, gt=0, description="No heart or breathing rate "
                                    "measured for this long ends an episode and its streaks.")
    bp_max_age_s: float = Field(3600.0, gt=0, description="A systolic pressure older than "
                                "this is missing, not scored.")
    persistence: int = Field(3, ge=1, description="Scores in a row at a level before its event "
                                                  "(and below medium before an episode ends).")
    min_quality: float = Field(0.3, ge=0, le=1, description="Ignore a rate of lower quality "
                                                            "(its own, else the window's).")


def level(result: News2) -> str | None:
    """Return the event a score calls for: news2_high (≥ 7), news2_medium (5–6 or a 3 in one
    parameter), or None."""
    if result.total >= 7:
        return "news2_high"
    if result.total >= 5 or 3 in result.per_parameter.values():
        return "news2_medium"
    return None


class News2Detector:
    """Score each new vitals window with its own rates and the latest pressure; raise an
    episode's level once it held for `persistence` scores in a row, never from one noisy
    window.

    A rate the window did not measure (the estimator abstained, or its quality was too low)
    is missing from that window's score, never carried over from an earlier window: one
    measurement counts once. A score without a level that misses a rate holds the streaks
    (the missing rate may be the abnormal one); only complete normal scores end an episode,
    or `vitals_max_age_s` without any rate measured.
    """

    def __init__(self, config: News2Config | None = None) -> None:
        self.config = config or News2Config()
        self._latest: dict[str, tuple[float, float]] = {}  # parameter -> (t, value)
        self._medium_streak = 0
        self._high_streak = 0
        self._low_streak = 0
        self._raised: set[str] = set()  # levels raised in the current episode
        self._measured_at: float | None = None  # the last window with a rate in it

    def _keep(self, parameter: str, t: float, value: object) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            seen = self._latest.get(parameter)
            if seen is None or t >= seen[0]:
                self._latest[parameter] = (t, float(value))

    def _recent(self, parameter: str, t: float, max_age_s: float) -> float | None:
        seen = self._latest.get(parameter)
        return seen[1] if seen is not None and abs(t - seen[0]) <= max_age_s else None

    def feed(self, item: DetectorInput) -> list[DetectorOutput]:
        cfg = self.config
        if not isinstance(item, Observation):
            return []
        if item.kind == "bp" and cfg.cuff is not None and item.device == cfg.cuff:
            self._keep("systolic", item.t, item.fields.get("systolic_mmhg"))
            return []
        if item.kind != "vitals" or item.device != cfg.bed:
            return []
        # Each rate counts with its own quality (readings without one: the window's).
        pulse = self._measured(item, "heart_rate_bpm", "heart_quality")
        breathing = self._measured(item, "breathing_rate_bpm", "breathing_quality")
        if pulse is None and breathing is None:
            return []
        if self._measured_at is not None and item.t - self._measured_at > cfg.vitals_max_age_s:
            self._forget()
        self._measured_at = item.t
        values = {"pulse": pulse, "respiration_rate": breathing,
                  "systolic": self._recent("systolic", item.t, cfg.bp_max_age_s)}
        result = score(respiration_rate=values["respiration_rate"], systolic=values["systolic"],
                       pulse=values["pulse"])
        if level(result) is None and (pulse is None or breathing is None):
            return []  # nothing abnormal in what this window measured, nor proof of normal
        return self._judge(item, result, values)

    def _measured(self, item: Observation, rate: str, quality: str) -> float | None:
        value = item.fields.get(rate)
        trust = item.fields.get(quality, item.fields.get("quality", 0))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            return None  # a 0 is "no value", never a measured rate
        if not isinstance(trust, (int, float)) or trust < self.config.min_quality:
            return None
        return float(value)

    def _forget(self) -> None:
        """End the episode and its streaks: nothing was measured for too long."""
        self._medium_streak = self._high_streak = self._low_streak = 0
        self._raised.clear()

    def _judge(self, item: Observation, result: News2, values: dict[str, float | None]
               ) -> list[DetectorOutput]:
        found = level(result)
        self._high_streak = self._high_streak + 1 if found == "news2_high" else 0
        self._medium_streak = self._medium_streak + 1 if found is not None else 0
        self._low_streak = self._low_streak + 1 if found is None else 0
        persistence = self.config.persistence
        if self._low_streak >= persistence:
            self._raised.clear()  # the episode is over
        if self._high_streak >= persistence and "news2_high" not in self._raised:
            kind, windows = "news2_high", self._high_streak
        elif self._medium_streak >= persistence and not self._raised:
            kind, windows = "news2_medium", self._medium_streak
        else:
            return []
        self._raised.add(kind)
        used = {name: {"value": value, "points": result.per_parameter[name]}
                for name, value in values.items() if value is not None}
        return [DeviceEvent(item.device, kind, item.t, {
            "score": result.total, "risk": result.risk, "partial": True,
            "parameters": used,
            "missing": [name for name, value in values.items() if value is None]
            + list(NOT_MEASURED),
            "windows": windows, "note": PARTIAL_NOTE})]
