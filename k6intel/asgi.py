"""Daphne serves this: Django for HTTP, Channels for the live-progress websockets."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "k6intel.settings")
django_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up first)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from k6intel.request_limits import RequestSizeLimit, limit_daphne_request_bodies  # noqa: E402
from runs.routing import websocket_urlpatterns  # noqa: E402

limit_daphne_request_bodies(settings.MAX_REQUEST_BYTES)
application = ProtocolTypeRouter(
    {
        "http": RequestSizeLimit(django_application, settings.MAX_REQUEST_BYTES),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
