"""The browser captcha (django-simple-captcha), used up only by the run it starts.

django-simple-captcha deletes a challenge as soon as it checks an answer, right or wrong. Here a wrong
answer still uses the challenge up (one guess each), but a right one stays until `captcha_spend` deletes
it in the transaction that stores the run: a refused script or input keeps it, and the page sends it
again, hidden, so the user does not solve another.
"""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField
from captcha.models import CaptchaStore
from django import forms
from django.conf import settings
from django.utils import timezone

TEST_MODE_ANSWER = "passed"


class AnsweredCaptchaInput(forms.MultiWidget):
    """An answered challenge, sent again with the next submit."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__([forms.HiddenInput(), forms.HiddenInput()], attrs)

    def decompress(self, value: Any) -> list[Any]:
        return value.split(",") if value else [None, None]


class KeptCaptchaField(CaptchaField):
    """A CaptchaField whose right answer is checked, not used up: the cleaned value is [hashkey, answer]."""

    hidden_widget = AnsweredCaptchaInput

    def clean(self, value: list[str]) -> list[str]:
        forms.MultiValueField.clean(self, value)  # only that both parts are there; CaptchaField's would delete the challenge
        hashkey, answer = value[0], (value[1] or "").strip().lower()
        if settings.CAPTCHA_TEST_MODE and answer == TEST_MODE_ANSWER:
            return [hashkey, answer]
        CaptchaStore.remove_expired()
        if not CaptchaStore.objects.filter(hashkey=hashkey, response=answer, expiration__gt=timezone.now()).exists():
            CaptchaStore.objects.filter(hashkey=hashkey).delete()  # one guess per challenge
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return [hashkey, answer]


def captcha_spend(answered: list[str]) -> bool:
    """Use an answered challenge up, in the transaction that stores its run; False if another request did.

    Of two requests racing with one answer, the second DELETE waits for the first to commit and then
    finds nothing to delete."""
    hashkey, answer = answered
    if settings.CAPTCHA_TEST_MODE and answer == TEST_MODE_ANSWER:
        return True
    deleted, _ = CaptchaStore.objects.filter(hashkey=hashkey, response=answer).delete()
    return deleted == 1
