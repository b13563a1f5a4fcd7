"""The status pills and the stepper reach WCAG's 4.5:1 contrast in the light and the dark scheme, computed
from the colours app.css gives them."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

CSS = (settings.BASE_DIR / "static" / "k6intel" / "app.css").read_text()
# (rule, its text colour, its background) as app.css writes them, each a variable of the scheme.
PAIRS = (
    (".status-done", "--done-ink", "--done-bg"),
    (".status-running", "--running-ink", "--running-bg"),
    (".status-failed", "--failed-ink", "--failed-bg"),
    (".status-cancelled", "--cancelled-ink", "--cancelled-bg"),
    (".stepper li", "--muted", "--step-bg"),
    (".stepper li[data-state=done]", "--done-ink", "--done-bg"),
    (".stepper li[data-state=current]", "--accent-ink", "--accent"),
    (".stepper li[data-state=failed]", "--failed-ink", "--failed-bg"),
    (".stepper li[data-state=cancelled]", "--cancelled-ink", "--cancelled-bg"),
)


def scheme(dark: bool) -> dict[str, str]:
    """The custom properties of the light :root, with the dark block's over them when `dark`."""
    light = re.search(r"^:root \{(.*?)\n\}", CSS, re.S | re.M)
    night = re.search(r"@media \(prefers-color-scheme: dark\) \{\s*:root \{(.*?)\}", CSS, re.S)
    assert light is not None and night is not None
    blocks = [light.group(1)] + ([night.group(1)] if dark else [])
    return {name: value for block in blocks for name, value in re.findall(r"(--[\w-]+):\s*(#[0-9a-fA-F]{3,6})", block)}


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    digits = "".join(c * 2 for c in digits) if len(digits) == 3 else digits

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(digits[i : i + 2]) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#2e7d32", "#dff1e0") < 4.5  # the done pill's colours before issue 18


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize(("rule", "ink", "background"), PAIRS, ids=[pair[0] for pair in PAIRS])
def test_pills_and_stepper_reach_4_5_to_1(rule: str, ink: str, background: str, dark: bool) -> None:
    declaration = re.search(re.escape(rule) + r"(?:, [^{]+)? \{([^}]*)\}", CSS)
    assert declaration is not None, rule
    assert f"background: var({background})" in declaration.group(1) and f"color: var({ink})" in declaration.group(1), rule
    colours = scheme(dark)
    assert contrast(colours[ink], colours[background]) >= 4.5, (rule, colours[ink], colours[background])
