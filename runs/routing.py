from __future__ import annotations

from django.urls import path

from runs.consumers import RunProgressConsumer

websocket_urlpatterns = [path("ws/runs/<uuid:run_id>/", RunProgressConsumer.as_asgi())]
