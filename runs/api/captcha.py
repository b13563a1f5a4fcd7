"""The API captcha: a stateless challenge bound to its answer by HMAC, good for one run, for 5 minutes.

The token carries a random nonce and an HMAC over (nonce, timestamp, answer,
the API key that asked for it) keyed with CAPTCHA_SECRET, so the server keeps
nothing until a run is started with it; then the nonce is recorded and a second
use is refused. A challenge fetched with one key cannot be answered with another.
Checking an answer does not use it up: a refused upload can be sent again with it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from captcha.conf import settings as captcha_settings
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from runs.models import UsedCaptcha

LIFETIME_S = 300
CLOCK_SKEW_S = 5
TEST_MODE_ANSWER = "PASSED"
ALREADY_USED = "This captcha was already used; get a new challenge."


class CaptchaInvalid(ValueError):
    """The answer is wrong, expired, forged or already used; the message says which."""


@dataclass(frozen=True)
class Challenge:
    question: str
    token: str
    timestamp: int


def captcha_issue(now_s: int | None = None, holder: str = "") -> Challenge:
    """A challenge for `holder` (the asking API key's id): only that key's answer counts."""
    question, answer = captcha_settings.get_challenge()()
    timestamp = int(now_s if now_s is not None else time.time())
    nonce = secrets.token_hex(16)
    mac = _mac(nonce, timestamp, answer, holder)
    return Challenge(f"What is {question.replace('*', '×').rstrip('=')}?", f"{nonce}.{mac}", timestamp)


@dataclass(frozen=True)
class Answer:
    """A right, unexpired answer that no run has used yet."""

    nonce: str  # empty for the test-mode answer, which is never used up


def captcha_check(answer: str, token: str, timestamp: str | int, holder: str = "") -> Answer:
    """The answer if it may still start a run, or raise CaptchaInvalid; nothing is used up."""
    if settings.CAPTCHA_TEST_MODE and answer == TEST_MODE_ANSWER:
        return Answer("")
    nonce = _signed_nonce(answer, token, timestamp, holder)
    UsedCaptcha.objects.filter(used_at__lt=timezone.now() - timedelta(seconds=2 * LIFETIME_S)).delete()
    if UsedCaptcha.objects.filter(nonce=nonce).exists():
        raise CaptchaInvalid(ALREADY_USED)
    return Answer(nonce)


def captcha_spend(answer: Answer) -> None:
    """Use the answer up, in the transaction that stores its run: if the run is not stored, the answer
    stays good. Of two requests racing with one answer, the unique nonce lets one commit."""
    if not answer.nonce:
        return
    try:
        with transaction.atomic():  # a savepoint: the caller decides what a replay undoes
            UsedCaptcha.objects.create(nonce=answer.nonce)
    except IntegrityError:
        raise CaptchaInvalid(ALREADY_USED) from None


def _signed_nonce(answer: str, token: str, timestamp: str | int, holder: str) -> str:
    """The challenge's nonce, if the answer is the one signed into its token and it has not expired."""
    nonce, _, mac = (token or "").partition(".")
    try:
        issued_s = int(timestamp)
    except (TypeError, ValueError):
        raise CaptchaInvalid("captcha_timestamp must be the timestamp given with the challenge.") from None
    if not nonce or not hmac.compare_digest(mac, _mac(nonce, issued_s, (answer or "").strip(), holder)):
        raise CaptchaInvalid(
            "The captcha answer is wrong (or the token was altered, or fetched with another API key); get a new challenge."
        )
    if not issued_s - CLOCK_SKEW_S <= time.time() <= issued_s + LIFETIME_S:
        raise CaptchaInvalid("The captcha has expired (5 minutes); get a new challenge.")
    return nonce


def _mac(nonce: str, timestamp: int, answer: str, holder: str) -> str:
    message = f"{nonce}|{timestamp}|{answer.strip().lower()}|{holder}".encode()
    return hmac.new(settings.CAPTCHA_SECRET.encode(), message, hashlib.sha256).hexdigest()
