"""The captcha says what its picture asks and reads it aloud (flite) for people who cannot see it."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
from captcha.conf import settings as captcha_settings

from runs.web.tests.test_ui_views import browser


def test_the_captcha_image_says_what_to_do(users: dict[str, Any]) -> None:
    page = browser(users["owner"]).get("/runs/new").content.decode()
    alt = re.search(r'<img src="/captcha/image/\w+/" alt="([^"]+)"', page)
    assert alt is not None and "calculation" in alt.group(1) and "Type its result" in alt.group(1)


@pytest.mark.skipif(shutil.which("flite") is None, reason="flite is missing: scripts/sysdeps.sh installs it")
def test_the_captcha_reads_its_calculation_aloud(users: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captcha_settings, "CAPTCHA_FLITE_PATH", shutil.which("flite"))
    client = browser(users["owner"])
    page = client.get("/runs/new").content.decode()
    link = re.search(r'<a href="(/captcha/audio/\w+\.wav)" class="captcha-audio"', page)
    assert link is not None
    audio = client.get(link.group(1))
    assert audio.status_code == 200 and audio["Content-Type"] == "audio/wav"
    assert b"".join(audio.streaming_content)[:4] == b"RIFF"  # type: ignore[attr-defined]  # a file response streams


def test_without_flite_there_is_no_audio_link(users: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(captcha_settings, "CAPTCHA_FLITE_PATH", None)
    page = browser(users["owner"]).get("/runs/new").content.decode()
    assert "captcha-audio" not in page and "listen to it" not in page
