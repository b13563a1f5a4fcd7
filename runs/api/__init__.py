"""The REST API: views (SSE too), serializers, schema hooks, the error shape, API keys, captcha, downloads."""
