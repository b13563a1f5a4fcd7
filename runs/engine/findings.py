"""Static findings on an uploaded k6 script, each with its line number.

The checks read the code with comments blanked out and look at string
literals and call shapes, not at bare words: a script that says "sh" or
mentions open() in a comment is fine. The sandbox stops what these checks
miss; the findings explain to the user, before anything runs, why a script
would not work here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from runs.engine.targets import METADATA_HOSTNAMES, address_rejection

STRING = r"""(['"`])((?:\\.|(?!\1).)*)\1"""
REMOTE_IMPORT = re.compile(r"""(?:\bfrom|\bimport|\bimport\s*\(|\brequire\s*\()\s*(['"`])(https?:)?//[^'"`]*\1""")
EXTENSION_IMPORT = re.compile(r"""(?:\bfrom|\bimport|\bimport\s*\(|\brequire\s*\()\s*(['"`])(k6/x/[^'"`]*)\1""")
OPEN_CALL = re.compile(r"""(?<![\w$])(?:[A-Za-z_$][\w$]*\.)?open\s*\(\s*""" + STRING)
HANDLE_SUMMARY = re.compile(r"""\bhandleSummary\b[^{]*\{""")
SUMMARY_KEY = re.compile(STRING + r"""\s*:|\[[^\]]+\]\s*:""")
URL_HOST = re.compile(r"""[a-z][a-z0-9+.-]*://(\[[0-9a-fA-F:.]+\]|[^/:'"`\s?#]+)""")
ALLOWED_SUMMARY_KEYS = {"stdout", "stderr"}


@dataclass(frozen=True)
class Finding:
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def find_problems(source: str) -> list[Finding]:
    code = blank_comments(source)
    findings = _remote_imports(code) + _extensions(code) + _file_reads(code) + _summary_files(code) + _addresses(code)
    return sorted(set(findings), key=lambda finding: (finding.line, finding.rule))


def blank_comments(source: str) -> str:
    """The source with // and /* */ comments replaced by spaces; offsets and line numbers are kept."""
    out = list(source)
    i, quote, length = 0, "", len(source)
    while i < length:
        char = source[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif source.startswith("//", i):
            end = source.find("\n", i)
            end = length if end == -1 else end
            out[i:end] = " " * (end - i)
            i = end
            continue
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = length if end == -1 else end + 2
            out[i:end] = [c if c == "\n" else " " for c in source[i:end]]
            i = end
            continue
        i += 1
    return "".join(out)


def _line(code: str, offset: int) -> int:
    return code.count("\n", 0, offset) + 1


def _remote_imports(code: str) -> list[Finding]:
    return [
        Finding(_line(code, m.start()), "remote_import", "imports a module over the network; bundle it into the script instead.")
        for m in REMOTE_IMPORT.finditer(code)
    ]


def _extensions(code: str) -> list[Finding]:
    return [
        Finding(_line(code, m.start()), "extension", f"uses the k6 extension {m.group(2)!r}; extensions are not available here.")
        for m in EXTENSION_IMPORT.finditer(code)
    ]


def _file_reads(code: str) -> list[Finding]:
    findings = []
    for m in OPEN_CALL.finditer(code):
        path = m.group(2)
        if path.startswith(("/", "~", "file:")) or ".." in path.split("/"):
            message = f"opens {path!r}, outside the script's directory; only files next to the script can be read."
            findings.append(Finding(_line(code, m.start()), "file_access", message))
    return findings


def _summary_files(code: str) -> list[Finding]:
    match = HANDLE_SUMMARY.search(code)
    if not match:
        return []
    body = code[match.end() : _closing_brace(code, match.end())]
    findings = []
    for key in SUMMARY_KEY.finditer(body):
        name = key.group(2)
        if name is not None and name in ALLOWED_SUMMARY_KEYS:
            continue
        what = f"the file {name!r}" if name is not None else "a computed file name"
        message = f"handleSummary writes {what}; only stdout and stderr are allowed (results are kept for you)."
        findings.append(Finding(_line(code, match.end() + key.start()), "summary_file", message))
    return findings


def _closing_brace(code: str, start: int) -> int:
    depth = 1
    for index in range(start, len(code)):
        depth += {"{": 1, "}": -1}.get(code[index], 0)
        if depth == 0:
            return index
    return len(code)


def _addresses(code: str) -> list[Finding]:
    findings = []
    for literal in re.finditer(STRING, code):
        for host in _hosts(literal.group(2)):
            if reason := _host_rejection(host):
                findings.append(Finding(_line(code, literal.start()), "blocked_address", f"targets {host}: {reason}"))
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
