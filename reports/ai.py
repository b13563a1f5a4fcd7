"""AI analysis with Gemini (google-genai): key rotation, bounded retries, structured output.

Each attempt picks a random key it has not tried yet; 429 and 503 are retried
(at most GEMINI_ATTEMPTS attempts in all) after an exponential backoff with
jitter. The reply must match the response schema, or the analysis falls back
to the insight-based sections. Keys are never logged or stored: only which
position in GEMINI_API_KEYS was used.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from typing import Any, Literal

import pydantic
from django.conf import settings
from google import genai
from google.genai import errors, types

log = logging.getLogger(__name__)

RETRYABLE = (429, 503)


class RiskAssessment(pydantic.BaseModel):
    level: Literal["low", "medium", "high", "critical"]
    items: list[str]


class Guidance(pydantic.BaseModel):
    priority: int
    action: str
    impact: str


class Sections(pydantic.BaseModel):
    executive_summary: str
    bottlenecks: list[str]
    risk_assessment: RiskAssessment
    optimization_guidance: list[Guidance]
    scaling_advice: str
    security_notes: list[str]


@dataclass
class AiResult:
    status: str  # ok | not_configured | failed | invalid_output
    model: str
    attempts: int = 0
    latency_ms: float = 0.0
    key_index: int | None = None
    keys_tried: list[int] | None = None
    sections: dict[str, Any] | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


def ai_analysis(prompt: str) -> AiResult:
    keys = settings.GEMINI_API_KEYS
    model = settings.GEMINI_MODEL
    if not keys:
        return AiResult(
            "not_configured", model, error="No GEMINI_API_KEYS configured; the analysis is written from the insights."
        )
    started = time.monotonic()
    tried: list[int] = []
    result = AiResult("failed", model)
    for attempt in range(1, settings.GEMINI_ATTEMPTS + 1):
        index = _pick_key(len(keys), tried)
        tried.append(index)
        result = _attempt(keys[index], model, prompt)
        result.attempts, result.key_index = attempt, index
        if result.status != "retry":
            break
        if attempt < settings.GEMINI_ATTEMPTS:
            time.sleep(_backoff_s(attempt))
    if result.status == "retry":
        result.status = "failed"
    result.keys_tried = tried
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    log.info("gemini analysis: %s after %d attempt(s), keys #%s", result.status, result.attempts, tried)
    return result


def _pick_key(count: int, tried: list[int]) -> int:
    fresh = [i for i in range(count) if i not in tried]
    return random.choice(fresh or range(count))


def _backoff_s(attempt: int) -> float:
    base = settings.GEMINI_BACKOFF_S * 2 ** (attempt - 1)
    return base + random.uniform(0, base / 2)


def _attempt(key: str, model: str, prompt: str) -> AiResult:
    client = genai.Client(api_key=key, http_options=_http_options())
    config = types.GenerateContentConfig(
        temperature=settings.GEMINI_TEMPERATURE,
        max_output_tokens=settings.GEMINI_MAX_TOKENS,
        response_mime_type="application/json",
        response_schema=Sections,
    )
    try:
        response = client.models.generate_content(model=model, contents=prompt, config=config)
    except errors.APIError as exc:
        status = "retry" if exc.code in RETRYABLE else "failed"
        return AiResult(status, model, error=f"Gemini answered {exc.code} {exc.status or ''}".strip())
    except Exception as exc:  # network errors, time-outs: transient, worth another key
        return AiResult("retry", model, error=f"Gemini could not be reached: {type(exc).__name__}")
    try:
        sections = Sections.model_validate_json(response.text or "")
    except pydantic.ValidationError as exc:
        return AiResult(
            "invalid_output", model, error=f"The model's answer did not match the schema ({exc.error_count()} problems)."
        )
    return AiResult("ok", model, sections=sections.model_dump())


def _http_options() -> types.HttpOptions:
    options: dict[str, Any] = {"timeout": int(settings.GEMINI_TIMEOUT_S * 1000)}
    if settings.GEMINI_BASE_URL:
        options["base_url"] = settings.GEMINI_BASE_URL
    # Retries are ours (with a different key each time), not the client's.
    options["retry_options"] = types.HttpRetryOptions(attempts=1)
    return types.HttpOptions(**options)
