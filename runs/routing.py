from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.urls import path, re_path

from runs.consumers import NoSuchSocket, RunProgressConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern

# django-stubs' path() takes views, not ASGI applications, and types-channels' URLRouter wants its own
# pattern type, which nothing returns: neither stub knows a consumer's route, hence the ignores and the cast.
websocket_urlpatterns = cast(
    "list[_ExtendedURLPattern | URLRouter]",
    [
        path("ws/runs/<uuid:run_id>/", RunProgressConsumer.as_asgi()),  # type: ignore[arg-type]
        re_path(r"", NoSuchSocket.as_asgi()),  # type: ignore[arg-type]  # any other path: closed with 4404, not a server error
    ],
)
