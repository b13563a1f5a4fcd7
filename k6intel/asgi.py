"""The ASGI application: Django for HTTP, Channels for the live-progress websockets.

In production gunicorn's uvicorn workers serve it (scripts/web.sh); `runserver` serves it with Daphne.
"""

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
from runs.api.result_http import StoredResultShortcut  # noqa: E402
from runs.api.views import ResultView  # noqa: E402
from runs.routing import websocket_urlpatterns  # noqa: E402

# Threads per process that send stored result documents, each with its own kept database connection.
STORED_RESULT_THREADS = 4

limit_daphne_request_bodies(settings.MAX_REQUEST_BYTES)
application = ProtocolTypeRouter(
    {
        "http": RequestSizeLimit(
            StoredResultShortcut(django_application, ResultView, STORED_RESULT_THREADS), settings.MAX_REQUEST_BYTES
        ),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
