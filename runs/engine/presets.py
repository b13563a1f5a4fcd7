"""Load shapes: the six presets and the plain VU/stage profiles as k6 scenarios.

Every shape is described by `vus`, the highest VU count the run reaches, so
one limit (MAX_VUS) bounds them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k6intel.env import parse_duration_s

PRESETS = ("smoke", "load", "stress", "spike", "soak", "breakpoint")

# Used when the user names a preset but no duration.
PRESET_DEFAULT_DURATION_S = {
    "smoke": 30,
    "load": 300,
    "stress": 600,
    "spike": 300,
    "soak": 1800,
    "breakpoint": 600,
}

# Iterations still running when a stage ends get this long to finish; it is
# part of the wall-clock budget, so keep it short.
GRACEFUL_STOP_S = 10

# Breakpoint runs stop themselves once the system is clearly past breaking.
BREAKPOINT_ABORT_THRESHOLDS = {
    "http_req_failed": [{"threshold": "rate<0.05", "abortOnFail": True, "delayAbortEval": "5s"}],
    "http_req_duration": [{"threshold": "p(95)<2000", "abortOnFail": True, "delayAbortEval": "5s"}],
}


@dataclass(frozen=True)
class Stage:
    duration_s: int
    target: int

    def as_k6(self) -> dict[str, Any]:
        return {"duration": f"{self.duration_s}s", "target": self.target}


@dataclass(frozen=True)
class LoadShape:
    scenario_name: str
    scenario: dict[str, Any]
    planned_duration_s: int
    max_vus: int
    extra_thresholds: dict[str, list[Any]] = field(default_factory=dict)


def constant_shape(vus: int, duration_s: int) -> LoadShape:
    scenario = {
        "executor": "constant-vus",
        "vus": vus,
        "duration": f"{duration_s}s",
        "gracefulStop": f"{GRACEFUL_STOP_S}s",
    }
    return LoadShape("constant", scenario, duration_s, vus)


def staged_shape(stages: list[Stage], name: str = "ramping") -> LoadShape:
    scenario = {
        "executor": "ramping-vus",
        "startVUs": 0,
        "stages": [stage.as_k6() for stage in stages],
        "gracefulRampDown": f"{GRACEFUL_STOP_S}s",
        "gracefulStop": f"{GRACEFUL_STOP_S}s",
    }
    duration_s = sum(stage.duration_s for stage in stages)
    return LoadShape(name, scenario, duration_s, max(stage.target for stage in stages))


def preset_shape(preset: str, vus: int, duration_s: int, rate_per_s: int | None) -> LoadShape:
    if preset == "smoke":
        return constant_shape(min(vus, 2), duration_s)
    if preset == "breakpoint":
        return _breakpoint(vus, duration_s, rate_per_s or vus * 10)
    fractions = _PROFILES[preset](vus)
    return staged_shape(_stages_from_fractions(fractions, duration_s), name=preset)


def planned_stages(spec: dict[str, Any], duration_s: int, vus: int) -> list[Stage]:
    """The stages a builder run's VUs follow (its own, or its preset's); none for a constant load or an arrival rate."""
    if spec.get("stages"):
        return [Stage(round(parse_duration_s(str(stage["duration"])) or 0), int(stage["target"])) for stage in spec["stages"]]
    preset = spec.get("preset")
    if preset in _PROFILES:
        return _stages_from_fractions(_PROFILES[preset](vus), duration_s)
    return []


def _stages_from_fractions(fractions: list[tuple[float, int]], duration_s: int) -> list[Stage]:
    return [Stage(max(1, round(share * duration_s)), target) for share, target in fractions]


def _load(vus: int) -> list[tuple[float, int]]:
    return [(0.2, vus), (0.6, vus), (0.2, 0)]


def _stress(vus: int) -> list[tuple[float, int]]:
    # Normal load is half the peak; two steps above it, each held.
    normal, step = max(1, vus // 2), max(1, (vus * 3) // 4)
    return [(0.1, normal), (0.2, normal), (0.1, step), (0.2, step), (0.1, vus), (0.2, vus), (0.1, 0)]


def _spike(vus: int) -> list[tuple[float, int]]:
    # Baseline is a tenth of the peak: a sudden ×10, held, dropped, then time to recover.
    base = max(1, vus // 10)
    return [(0.1, base), (0.2, base), (0.05, vus), (0.15, vus), (0.05, base), (0.35, base), (0.1, 0)]


def _soak(vus: int) -> list[tuple[float, int]]:
    return [(0.05, vus), (0.9, vus), (0.05, 0)]


_PROFILES = {"load": _load, "stress": _stress, "spike": _spike, "soak": _soak}


def _breakpoint(vus: int, duration_s: int, rate_per_s: int) -> LoadShape:
    scenario = {
        "executor": "ramping-arrival-rate",
        "startRate": 1,
        "timeUnit": "1s",
        "preAllocatedVUs": max(1, min(vus, 10)),
        "maxVUs": vus,
        "stages": [{"duration": f"{duration_s}s", "target": rate_per_s}],
        "gracefulStop": f"{GRACEFUL_STOP_S}s",
    }
    return LoadShape("breakpoint", scenario, duration_s, vus, BREAKPOINT_ABORT_THRESHOLDS)


PRESET_DESCRIPTIONS = {
    "smoke": "1–2 VUs for a short while: does the endpoint work at all before you load it?",
    "load": "Ramp up to your VUs, hold them, ramp down: the expected everyday traffic.",
    "stress": "Half, three quarters, then all of your VUs, each step held: where does it start to hurt?",
    "spike": "A tenth of your VUs, a sudden jump to all of them, back down: does it survive and recover?",
    "soak": "Your VUs held for a long time: leaks and slow degradation show up here.",
    "breakpoint": "Arrivals per second rise steadily until errors or latency pass their limits; the run stops itself.",
}


def preset_outline(preset: str) -> list[tuple[float, float]]:
    """The load over time as (time share, load share) points from 0 to 1, for drawing the preset's shape."""
    if preset == "smoke":
        return [(0.0, 0.2), (1.0, 0.2)]
    if preset == "breakpoint":
        return [(0.0, 0.0), (1.0, 1.0)]
    stages = _stages_from_fractions(_PROFILES[preset](100), 1000)
    total_s = sum(stage.duration_s for stage in stages)
    points, elapsed_s = [(0.0, 0.0)], 0
    for stage in stages:
        elapsed_s += stage.duration_s
        points.append((elapsed_s / total_s, stage.target / 100))
    return points
