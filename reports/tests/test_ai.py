"""Gemini through a local fake server speaking its REST shape: rotation, retries, fallbacks, a clean prompt."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest

from reports.ai import ai_analysis
from reports.tests.fake_gemini import FakeGemini, model_reply
from runs.api.serializers import BuilderRunSerializer
from runs.engine.formatting import percent
from runs.pipeline import run_create_from_builder, run_execute

KEYS = ["key-alpha-0000", "key-bravo-1111", "key-charlie-2222", "key-delta-3333"]
SECTIONS = {
    "executive_summary": "The service handled 50 requests/s with p95 of 20 ms.",
    "bottlenecks": ["none observed"],
    "risk_assessment": {"level": "low", "items": ["short test"]},
    "optimization_guidance": [{"priority": 1, "action": "Run longer", "impact": "firmer percentiles"}],
    "scaling_advice": "Test at 2x load.",
    "security_notes": ["Add HSTS."],
}
GOOD = (200, model_reply(orjson.dumps(SECTIONS).decode()))


@pytest.fixture
def gemini(settings: Any) -> Iterator[Callable[..., FakeGemini]]:
    fakes: list[FakeGemini] = []

    def start(*script: tuple[int, Any]) -> FakeGemini:
        fake = FakeGemini(list(script))
        fakes.append(fake)
        settings.GEMINI_BASE_URL = fake.url
        settings.GEMINI_API_KEYS = KEYS
        settings.GEMINI_BACKOFF_S = 0.01
        return fake

    yield start
    for fake in fakes:
        fake.stop()


def test_429_then_503_then_200_uses_three_different_keys(gemini: Callable[..., FakeGemini]) -> None:
    fake = gemini((429, None), (503, None), GOOD)
    result = ai_analysis("analyse this")
    assert result.status == "ok" and result.attempts == 3 and result.sections == SECTIONS
    used = [call.api_key for call in fake.calls]
    assert len(set(used)) == 3 and set(used) <= set(KEYS)
    assert result.keys_tried == [KEYS.index(key) for key in used] and result.key_index == KEYS.index(used[-1])
    # The real client's REST shape: POST …/models/<model>:generateContent with a JSON schema for the answer.
    assert fake.calls[0].path.endswith("/models/gemini-2.5-flash-lite:generateContent")
    config = fake.calls[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json" and config["temperature"] == 0.2 and config["maxOutputTokens"] == 8192
    assert "executive_summary" in orjson.dumps(config.get("responseSchema") or config.get("responseJsonSchema")).decode()


def test_three_429s_give_up_and_fall_back(gemini: Callable[..., FakeGemini]) -> None:
    fake = gemini((429, None))
    result = ai_analysis("analyse this")
    assert (result.status, result.attempts, len(fake.calls)) == ("failed", 3, 3)
    assert "429" in result.error and result.sections is None


def test_a_non_retryable_error_stops_at_once(gemini: Callable[..., FakeGemini]) -> None:
    fake = gemini((400, None))
    assert (ai_analysis("x").status, len(fake.calls)) == ("failed", 1)


def test_malformed_output_falls_back_without_crashing(gemini: Callable[..., FakeGemini]) -> None:
    gemini((200, model_reply('{"executive_summary": "half an answer"')))
    result = ai_analysis("analyse this")
    assert result.status == "invalid_output" and result.attempts == 1 and result.sections is None


def test_no_keys_means_not_configured(settings: Any) -> None:
    settings.GEMINI_API_KEYS = []
    assert ai_analysis("x").status == "not_configured"


@pytest.mark.django_db(transaction=True)
def test_a_run_stores_the_analysis_and_no_secret_reaches_the_prompt(
    gemini: Callable[..., FakeGemini], demo_target: Callable[..., Any], settings: Any
) -> None:
    fake = gemini((429, None), (503, None), GOOD)
    target = demo_target(latency_min_ms=1, latency_max_ms=2, error_rate=0.5)
    data = {
        "url": f"{target.url}/api?token=url-secret-123",
        "vus": 1,
        "duration": "2s",
        "headers": {"Authorization": "Bearer header-secret-456", "Cookie": "session=cookie-secret-789"},
    }
    serializer = BuilderRunSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer).pk)
    analysis = run.analysis
    assert analysis.ai["status"] == "ok" and analysis.ai["attempts"] == 3 and len(set(analysis.ai["keys_tried"])) == 3
    assert analysis.sections == {**SECTIONS, "source": "ai"}
    prompt = orjson.dumps(fake.calls[-1].body).decode()
    text = fake.calls[-1].body["contents"][0]["parts"][0]["text"]
    assert '"http_reqs"' in text and '"insights"' in text and '"timeseries_highlights"' in text
    # The AI is told the verdict and why requests failed, so its summary cannot contradict them.
    assert '"status": "failed"' in text and '"message": "HTTP 500"' in text and "never contradict it" in text
    for secret in ("url-secret-123", "header-secret-456", "cookie-secret-789", settings.SECRET_KEY, *KEYS):
        assert secret not in prompt
    stored = orjson.dumps(analysis.ai).decode() + run.log
    assert not any(key in stored for key in KEYS)


@pytest.mark.django_db(transaction=True)
def test_without_keys_the_analysis_is_complete_from_the_insights(demo_target: Callable[..., Any], settings: Any) -> None:
    settings.GEMINI_API_KEYS = []
    target = demo_target(latency_min_ms=1, latency_max_ms=2, error_rate=0.3)
    serializer = BuilderRunSerializer(data={"url": target.url + "/api", "vus": 2, "duration": "2s"})
    assert serializer.is_valid()
    run = run_execute(run_create_from_builder(serializer).pk)
    sections = run.analysis.sections
    assert run.analysis.ai["status"] == "not_configured" and sections["source"] == "insights"
    assert sections["risk_assessment"]["level"] == "critical"  # 30 % errors grade F
    assert f"{percent(run.result.metrics['http_req_failed']['rate'])} failed" in sections["executive_summary"]
    assert sections["optimization_guidance"][0]["priority"] == 1
    assert {"bottlenecks", "scaling_advice", "security_notes"} <= set(sections)
