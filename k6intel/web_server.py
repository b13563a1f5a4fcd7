"""The production web server's settings, read by gunicorn (`scripts/web.sh` passes this file).

gunicorn runs WEB_WORKERS processes on one socket and restarts any that dies; each serves HTTP and
websockets with uvicorn (Django's documented ASGI setup). Channels' Redis layer carries a run's
live events to whichever process holds the browser's websocket.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from uvicorn_worker import UvicornWorker

from k6intel.env import env_int, env_str

# As k6intel/settings.py does: values already in the environment win over the file.
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

bind = [env_str("WEB_BIND", "0.0.0.0:8000")]
# One per core by default: serving the API is CPU work, and on 2 cores bench/result_api.py found 3 or 4
# workers no faster than 2, with longer tails.
workers = env_int("WEB_WORKERS", len(os.sched_getaffinity(0)), minimum=1, maximum=64)
worker_class = "k6intel.web_server.Worker"
# Open connections per worker (websockets included); past this a worker answers 503.
worker_connections = env_int("WEB_MAX_CONNECTIONS", 1000, minimum=10, maximum=100_000)
keepalive = 5
# SIGTERM: workers stop taking connections and finish the requests in flight; 5 s before
# graceful_timeout they close what is left (websockets and event streams, which clients reopen),
# and a worker still busy at graceful_timeout is killed. docker-compose.yml's stop_grace_period is longer.
graceful_timeout = env_int("WEB_GRACEFUL_TIMEOUT_S", 30, minimum=5, maximum=3600)
accesslog = None  # requests are not logged one by one; errors are
# gunicorn's control socket sits at one path per user: a second server on the machine would clash.
control_socket_disable = True

# Headers of one request at most (h11 refuses more with 400): uvicorn's faster httptools parser has no such limit.
MAX_HEADER_BYTES = 64 * 1024
# Websocket messages from a client: the consumers read none, so a small cap refuses floods.
MAX_WEBSOCKET_MESSAGE_BYTES = 64 * 1024
# Websocket pings every WS_PING_S keep idle sockets open through proxies and close dead ones.
WS_PING_S = 20.0


class Worker(UvicornWorker):
    # Request bodies are capped by k6intel.request_limits.RequestSizeLimit, which uvicorn does not
    # pre-empt: it reads a body only as the application asks for it.
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "auto",
        "http": "h11",
        "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
        "ws": "auto",
        "ws_max_size": MAX_WEBSOCKET_MESSAGE_BYTES,
        "ws_ping_interval": WS_PING_S,
        "ws_ping_timeout": WS_PING_S,
        "lifespan": "off",  # Django has no lifespan handlers
        "limit_concurrency": worker_connections,
        "timeout_graceful_shutdown": max(1, graceful_timeout - 5),
    }
