"""Template filters: the same formatters the CLI and the reports use (runs.engine.formatting)."""

from __future__ import annotations

from typing import Any

from django import template

from runs.engine import delivery, formatting, results
from runs.loadtests import CONVENTIONAL_LABELS

register = template.Library()


@register.filter
def percent(rate: float | None) -> str:
    return formatting.percent(rate)


@register.filter
def ms(value_ms: float | None) -> str:
    return formatting.milliseconds(value_ms)


@register.filter
def secs(value_s: float | None) -> str:
    return formatting.seconds(value_s)


@register.filter
def bytes_readable(value_bytes: int | None) -> str:
    return formatting.byte_size(value_bytes)


@register.filter
def evidence(values: dict[str, object]) -> str:
    return formatting.evidence_text(values)


@register.filter
def without_scenario(metric: str) -> str:
    """A threshold's metric as a scenario's row shows it: without the scenario it is on."""
    return results.without_tag(metric, "scenario")


@register.filter
def ending(end_reason: str) -> str:
    return delivery.ending_text(end_reason or "")


@register.filter
def label_pairs(labels: dict[str, str] | None) -> list[tuple[str, str]]:
    """A run's labels in the order pages show them: the conventional ones first, then the rest by name.
    (A template iterating `labels.items` would find a label named "items" instead.)"""
    order = {key: index for index, key in enumerate(CONVENTIONAL_LABELS)}
    return sorted((labels or {}).items(), key=lambda pair: (order.get(pair[0], len(order)), pair[0]))


@register.filter
def lighthouse_throttling(result: dict[str, Any]) -> str:
    return formatting.throttling_text(result)
