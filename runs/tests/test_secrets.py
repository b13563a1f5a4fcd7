"""Credential headers reach the target but not the stored script, the result, the log or the database."""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.fernet import InvalidToken

from runs.api.serializers import BuilderRunSerializer
from runs.engine.secrets import seal, unseal
from runs.models import Run
from runs.pipeline import WORKDIR_PREFIX, run_create_from_builder, run_execute
from runs.selectors import run_result

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "Bearer tok-91a7-secret"


@pytest.fixture
def header_recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api", seen
    server.shutdown()
    server.server_close()


def test_credential_headers_are_sent_but_never_stored(header_recorder: tuple[str, list[dict[str, str]]], settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    url, seen = header_recorder
    headers = {"Authorization": TOKEN, "X-Team": "perf"}
    # Requests after the file is gone still carry the header: k6 keeps what init code opened.
    stages = [{"duration": "1s", "target": 4}, {"duration": "2s", "target": 4}]
    serializer = BuilderRunSerializer(data={"url": url, "stages": stages, "headers": headers})
    assert serializer.is_valid(), serializer.errors
    run = run_create_from_builder(serializer)
    assert TOKEN not in run.script and '"X-Team": "perf"' in run.script and "secrets.json" in run.script
    assert (
        run.sealed_secrets
        and TOKEN not in run.sealed_secrets
        and unseal(run.sealed_secrets) == {"headers": {"Authorization": TOKEN}}
    )
    plain_copies: list[str] = []

    def look_on_disk(point: Any) -> None:  # while k6 runs: is the credential in any file of a run's directory?
        for path in glob.glob(f"/tmp/{WORKDIR_PREFIX}{run.pk}-*/*"):
            if not os.path.islink(path) and TOKEN.encode() in Path(path).read_bytes():
                plain_copies.append(path)
        links.extend(glob.glob(f"/tmp/{WORKDIR_PREFIX}{run.pk}-*/secrets.json"))

    links: list[str] = []
    run = run_execute(run.pk, on_progress=look_on_disk)
    assert run.status == "done", run.error
    assert seen and all(h.get("Authorization") == TOKEN and h.get("X-Team") == "perf" for h in seen)
    assert links and not plain_copies  # secrets.json was there, a link to memory, never a plain file
    assert max(p["vus"] for p in run.result.timeseries) == 4
    assert Run.objects.get(pk=run.pk).sealed_secrets == ""  # erased once k6 had them
    stored = orjson.dumps(run_result(run)).decode() + run.log
    assert TOKEN not in stored and "tok-91a7" not in stored


def test_sealing_round_trips_and_is_keyed_by_secret_key(settings: Any) -> None:
    token = seal({"Cookie": "session=abc"})
    assert unseal(token) == {"Cookie": "session=abc"} and "session" not in token
    settings.SECRET_KEY = "another-secret-key-entirely-0123456789"
    with pytest.raises(InvalidToken):
        unseal(token)


@pytest.mark.parametrize(
    "name", ["Authorization", "Authentication", "X-Auth", "Ocp-Apim-Subscription-Key", "X-Api-Key", "Cookie", "X-Session-Id",
             "X-Amz-Security-Token", "X-Signature", "Proxy-Authorization"],
)  # fmt: skip
def test_every_usual_credential_header_is_sealed(name: str) -> None:
    from runs.engine.secrets import split_headers

    public, secret = split_headers({name: "s3cret", "Accept": "application/json", "Content-Type": "text/plain"})
    assert secret == {name: "s3cret"} and public == {"Accept": "application/json", "Content-Type": "text/plain"}


def test_credential_query_parameters_are_sent_but_never_stored(settings: Any) -> None:
    settings.RUN_POST_STAGES = []
    paths: list[str] = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(503)  # failures keep example URLs: those must not keep the token
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/feed?access_token=url-tok-5512&page=2"
    data = {"url": url, "vus": 1, "duration": "1s", "query": {"api_key": "query-key-7781", "lang": "en"}}
    serializer = BuilderRunSerializer(data=data)
    assert serializer.is_valid(), serializer.errors
    run = run_execute(run_create_from_builder(serializer).pk)
    server.shutdown()
    assert paths and all("access_token=url-tok-5512" in p and "api_key=query-key-7781" in p and "page=2" in p for p in paths)
    stored = orjson.dumps(run_result(run)).decode() + run.log + run.script + str(run.spec) + run.target_url
    assert "url-tok-5512" not in stored and "query-key-7781" not in stored
    assert run.result.failures["by_reason"][0]["sample_urls"]  # example URLs are kept, without the credentials


def test_stored_urls_mask_credential_parameters() -> None:
    from runs.engine.secrets import mask_url

    assert mask_url("http://x/a?sig=abc&page=2&api_key=k") == "http://x/a?sig=••••&page=2&api_key=••••"
