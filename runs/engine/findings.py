"""Static findings on an uploaded k6 suite, each with its file and line.

Every script file of the bundle is read with a real parser (runs/engine/jssource.py):
imports, `open()` paths and string literals are seen as code, never in
comments or inside other strings. The sandbox stops what these checks miss;
the findings explain, before anything runs and all at once, why a suite would
not work here. Writing files from handleSummary is fine: they stay in the
run's box and are kept as its artifacts.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass

from django.conf import settings

from runs.engine.bundle import RESERVED_DIR, Bundle
from runs.engine.jssource import Literal, SourceFacts, read_source
from runs.engine.modules import MODULES_DIR, host_allowed, is_url, module_host
from runs.engine.targets import METADATA_HOSTNAMES, address_rejection

URL_HOST = re.compile(r"""[a-z][a-z0-9+.-]*://(\[[0-9a-fA-F:.]+\]|[^/:'"`\s?#]+)""")
BROWSER_MODULES = ("k6/browser", "k6/experimental/browser")
# Rules that stop `k6 inspect` from reading the options: it would only fail on them.
BLOCKING_RULES = {"remote_import", "extension", "browser", "missing_module", "npm_module", "file_access", "missing_file"}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.message}"


def find_problems(bundle: Bundle) -> list[Finding]:
    findings: list[Finding] = []
    for path, source in bundle.scripts():
        facts = read_source(source, path)
        fetched = path.startswith(MODULES_DIR + "/")  # a library the platform fetched: its imports were resolved
        findings += _imports(bundle, path, facts)
        if not bundle.k6_archive and not fetched:
            findings += _file_reads(bundle, path, facts)
        if not fetched:
            findings += _addresses(path, facts)
    return sorted(set(findings), key=lambda finding: (finding.path != bundle.entry, finding.path, finding.line, finding.rule))


def _imports(bundle: Bundle, path: str, facts: SourceFacts) -> list[Finding]:
    findings = []
    for literal in facts.imports:
        if finding := _import_finding(bundle, path, literal):
            findings.append(finding)
    return findings


def _import_finding(bundle: Bundle, path: str, literal: Literal) -> Finding | None:
    specifier = literal.value
    if specifier.startswith(BROWSER_MODULES):
        message = (
            f"imports {specifier!r}: k6 browser tests cannot run here yet (Chromium cannot start in k6's sandbox). "
            "Use the page test and Lighthouse for the browser side, and protocol-level requests for load."
        )
        return Finding(path, literal.line, "browser", message)
    if specifier.startswith("k6/x/"):
        return Finding(
            path, literal.line, "extension", f"uses the k6 extension {specifier!r}; extensions are not available here."
        )
    if specifier == "k6" or specifier.startswith("k6/"):
        return None
    if is_url(specifier):
        if bundle.k6_archive or host_allowed(specifier):
            return None  # inside the archive, or fetched by the platform (a failed fetch is its own finding)
        if specifier.startswith("http://"):
            message = f"imports {specifier}: k6 loads remote modules only over https://."
            return Finding(path, literal.line, "remote_import", message)
        hosts = ", ".join(settings.MODULE_HOSTS) or "none"
        message = (
            f"imports {specifier}: {module_host(specifier)} is not in MODULE_HOSTS (now: {hosts}). "
            "Ask an admin to add it, or put the file in the bundle."
        )
        return Finding(path, literal.line, "remote_import", message)
    if bundle.k6_archive:
        return None
    if not specifier.startswith(("./", "../", "/")):
        message = f"imports {specifier!r}: k6 has no npm packages; bundle the library (e.g. with esbuild) or import it by URL."
        return Finding(path, literal.line, "npm_module", message)
    target = _inside(path, specifier)
    if target is None:
        return Finding(path, literal.line, "missing_module", f"imports {specifier!r}, outside the bundle.")
    if target not in bundle.files:
        return Finding(path, literal.line, "missing_module", f"imports {specifier!r}, which is not in the bundle.")
    return None


def _file_reads(bundle: Bundle, path: str, facts: SourceFacts) -> list[Finding]:
    findings = []
    for literal in facts.opened:
        target = _inside(path, literal.value)
        if target is None or target.startswith(RESERVED_DIR + "/"):
            message = f"opens {literal.value!r}, outside the bundle; only files in the bundle can be read."
            findings.append(Finding(path, literal.line, "file_access", message))
        elif target not in bundle.files:
            message = f"opens {literal.value!r}, which is not in the bundle; add it to the .zip or .tar.gz."
            findings.append(Finding(path, literal.line, "missing_file", message))
    return findings


def _inside(importer: str, relative: str) -> str | None:
    """The bundle path `relative` means from `importer` (k6 resolves both imports and open() this way), or None."""
    if relative.startswith(("/", "~", "file:")):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(importer), relative))
    return None if joined == ".." or joined.startswith("../") else joined


def _addresses(path: str, facts: SourceFacts) -> list[Finding]:
    findings = []
    for literal in facts.strings:
        for host in _hosts(literal.value):
            if reason := _host_rejection(host):
                findings.append(Finding(path, literal.line, "blocked_address", f"targets {host}: {reason}"))
    return findings


def _hosts(text: str) -> list[str]:
    hosts = [m.group(1).strip("[]") for m in URL_HOST.finditer(text)]
    return hosts or [text.strip()]  # a bare address in a string literal counts too


def _host_rejection(host: str) -> str | None:
    if host.lower() in METADATA_HOSTNAMES or host.lower().endswith(".internal"):
        return "a cloud metadata host name, never a load target."
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address_rejection(address)
