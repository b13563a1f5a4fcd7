#!/bin/sh
# The production web server (HTTP and websockets): gunicorn with WEB_WORKERS uvicorn workers on
# WEB_BIND (default 0.0.0.0:8000); settings in k6intel/web_server.py. docker-compose.yml's web
# service and bench/result_api.py start it with this command.
cd "$(dirname "$0")/.." || exit 1
exec "${PYTHON:-python}" -m gunicorn --config python:k6intel.web_server k6intel.asgi:application "$@"
