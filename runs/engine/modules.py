"""Remote modules (jslib and the like), fetched by the platform instead of by k6.

k6's module loader ignores the IP blacklist, so k6 is never allowed to load a
module over the network. Instead, before anything runs, every import of a URL
on a host in MODULE_HOSTS is fetched here — through the policy proxy, so the
target policy holds for it as for load — cached by URL with its SHA-256, and
written into the bundle under `_modules/<host>/<path>`; the import is rewritten
to that relative path. Modules a fetched module imports (relative or by URL)
are resolved the same way. Imports from other hosts are left for the findings,
which name the setting.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from runs.engine.bundle import MAX_SCRIPT_FILE_BYTES, SCRIPT_SUFFIXES, Bundle
from runs.engine.jssource import read_source
from runs.engine.targets import TargetRejected, check_target_url
from scanners.fetch import verify_context
from scanners.policy_proxy import policy_proxy

log = logging.getLogger(__name__)

MODULES_DIR = "_modules"
MAX_MODULES = 100
MAX_REDIRECTS = 5
FETCH_TIMEOUT_S = 15.0
RESOLVE_BUDGET_S = 60.0  # all of one upload's module downloads together


@dataclass(frozen=True)
class ModuleProblem:
    path: str  # the file that imports it
    line: int
    message: str


def is_url(specifier: str) -> bool:
    return specifier.startswith(("http://", "https://", "//"))


def module_host(url: str) -> str:
    parts = urlsplit(url if not url.startswith("//") else "https:" + url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def host_allowed(url: str) -> bool:
    """True for an https:// URL (k6 loads remote modules over nothing else) on a host in MODULE_HOSTS."""
    https = url.startswith(("https://", "//"))
    return https and module_host(url) in {host.lower() for host in settings.MODULE_HOSTS}


def resolve_modules(bundle: Bundle) -> list[ModuleProblem]:
    """Place every allowed remote module in the bundle and point its imports at it; what failed, per import."""
    if bundle.k6_archive:
        return []  # k6 put every module it needs inside the archive
    resolver = _Resolver(bundle)
    resolver.queue = [(path, "") for path in sorted(bundle.files) if path.endswith(SCRIPT_SUFFIXES)]
    while resolver.queue:
        resolver.rewrite(*resolver.queue.pop())
    bundle.modules = sorted(resolver.placed.values(), key=lambda module: module["url"])
    return resolver.problems


class _Resolver:
    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self.placed: dict[str, dict[str, str]] = {}  # url -> {url, path, sha256}
        self.problems: list[ModuleProblem] = []
        self.queue: list[tuple[str, str]] = []  # (path in the bundle, the URL it came from) still to read
        self.failed: dict[str, str] = {}  # url -> why it could not be fetched
        self.attempts = 0
        self.deadline = time.monotonic() + RESOLVE_BUDGET_S

    def rewrite(self, path: str, base_url: str) -> None:
        """Point one file's remote imports at their local copies, fetching those not placed yet."""
        source = self.bundle.files[path]
        replacements: list[tuple[int, int, bytes]] = []
        for literal in read_source(source, path).imports:
            url = _remote_url(literal.value, base_url)
            if url is None or not host_allowed(url):
                continue  # local, built in, or a host the findings will name
            module_path = self.placed[url]["path"] if url in self.placed else self._place(url, path, literal.line)
            if module_path is not None:
                relative = posixpath.relpath(module_path, posixpath.dirname(path) or ".")
                replacements.append((literal.start, literal.end, _dot_relative(relative).encode()))
        for start, end, text in sorted(replacements, reverse=True):
            source = source[:start] + text + source[end:]
        self.bundle.files[path] = source

    def _place(self, url: str, importer: str, line: int) -> str | None:
        # Every attempt counts, failed ones too, and a URL that failed is not fetched again: a script
        # cannot make one upload send thousands of requests or wait on thousands of timeouts.
        if url in self.failed:
            self.problems.append(ModuleProblem(importer, line, f"imports {url}, which could not be fetched: {self.failed[url]}"))
            return None
        if self.attempts >= MAX_MODULES or time.monotonic() > self.deadline:
            why = f"more than {MAX_MODULES} remote modules" if self.attempts >= MAX_MODULES else "remote modules too slow"
            self.problems.append(
                ModuleProblem(importer, line, f"imports {url}: not fetched, {why} (at most {RESOLVE_BUDGET_S} s).")
            )
            return None
        self.attempts += 1
        try:
            content = fetch_module(url, timeout_s=max(1.0, min(FETCH_TIMEOUT_S, self.deadline - time.monotonic())))
        except ModuleUnavailable as exc:
            self.failed[url] = str(exc)
            self.problems.append(ModuleProblem(importer, line, f"imports {url}, which could not be fetched: {exc}"))
            return None
        module_path = _local_path(url)
        self.bundle.files[module_path] = content
        self.placed[url] = {"url": url, "path": module_path, "sha256": hashlib.sha256(content).hexdigest()}
        self.queue.append((module_path, url))  # its own imports next
        return module_path


class ModuleUnavailable(Exception):
    pass


def _remote_url(specifier: str, base_url: str) -> str | None:
    if is_url(specifier):
        return "https:" + specifier if specifier.startswith("//") else specifier
    if base_url and specifier.startswith(("./", "../", "/")):
        return urljoin(base_url, specifier)  # a fetched module's own relative import is remote too
    return None


def _local_path(url: str) -> str:
    parts = urlsplit(url)
    host = module_host(url).replace(":", "_")
    path = posixpath.normpath("/" + parts.path).lstrip("/") or "index.js"
    if parts.query:
        stem, suffix = posixpath.splitext(path)
        path = f"{stem}-{hashlib.sha256(parts.query.encode()).hexdigest()[:12]}{suffix}"
    if not path.endswith(SCRIPT_SUFFIXES):
        path += ".js"
    return f"{MODULES_DIR}/{host}/{path}"


def _dot_relative(path: str) -> str:
    return path if path.startswith("../") else "./" + path


# --- fetching and the cache -----------------------------------------------------


def fetch_module(url: str, timeout_s: float = FETCH_TIMEOUT_S) -> bytes:
    """The module's bytes: from the cache when its checksum still matches, else fetched and cached."""
    cached = _cache_read(url)
    if cached is not None:
        return cached
    content = _download(url, timeout_s)
    _cache_write(url, content)
    return content


def _cache_paths(url: str) -> tuple[Path, Path]:
    key = hashlib.sha256(url.encode()).hexdigest()
    directory = Path(settings.MODULE_CACHE_DIR)
    return directory / f"{key}.js", directory / f"{key}.sha256"


def _cache_read(url: str) -> bytes | None:
    body_path, sum_path = _cache_paths(url)
    try:
        content, expected = body_path.read_bytes(), sum_path.read_text().strip()
    except OSError:
        return None
    if hashlib.sha256(content).hexdigest() != expected:
        log.warning("cached module %s does not match its checksum; fetching it again", url)
        return None
    return content


def _cache_write(url: str, content: bytes) -> None:
    body_path, sum_path = _cache_paths(url)
    try:
        body_path.parent.mkdir(parents=True, exist_ok=True)
        partial = body_path.with_suffix(".partial")
        partial.write_bytes(content)
        partial.replace(body_path)
        sum_path.write_text(hashlib.sha256(content).hexdigest())
    except OSError:
        log.warning("could not cache module %s in %s", url, body_path.parent, exc_info=True)


def _download(url: str, timeout_s: float) -> bytes:
    """GET through the policy proxy (the address it checked is the one it connects to), redirects checked each hop."""
    with policy_proxy() as (proxy_url, _):
        with httpx.Client(timeout=timeout_s, proxy=proxy_url, trust_env=False, verify=verify_context()) as client:
            for _ in range(MAX_REDIRECTS + 1):
                _check(url)
                try:
                    with client.stream("GET", url, headers={"User-Agent": settings.USER_AGENT}) as response:
                        if response.is_redirect and (location := response.headers.get("location")):
                            url = urljoin(url, location)
                            continue
                        if response.status_code != 200:
                            raise ModuleUnavailable(f"the server answered {response.status_code}.")
                        return _read_capped(response)
                except httpx.HTTPError as exc:
                    raise ModuleUnavailable(f"{type(exc).__name__} {exc}".strip() + ".") from None
    raise ModuleUnavailable(f"more than {MAX_REDIRECTS} redirects.")


def _check(url: str) -> None:
    if not host_allowed(url):
        raise ModuleUnavailable(f"it redirects to {module_host(url)}, which is not in MODULE_HOSTS.")
    try:
        check_target_url(url)
    except TargetRejected as exc:
        raise ModuleUnavailable(str(exc)) from None


def _read_capped(response: httpx.Response) -> bytes:
    content = b""
    for chunk in response.iter_bytes():
        content += chunk
        if len(content) > MAX_SCRIPT_FILE_BYTES:
            raise ModuleUnavailable(f"it is larger than {MAX_SCRIPT_FILE_BYTES} bytes.")
    return content
