from __future__ import annotations

from django.urls import path, re_path

from runs.consumers import NoSuchSocket, RunProgressConsumer

websocket_urlpatterns = [
    path("ws/runs/<uuid:run_id>/", RunProgressConsumer.as_asgi()),
    re_path(r"", NoSuchSocket.as_asgi()),  # any other path: closed with 4404, not a server error
]
