"""Reading uploads into bundles, and the parser-based findings on them: hostile archives and the old false positives."""

from __future__ import annotations

import io
import tarfile
import zipfile
from typing import Any

import pytest

from runs.engine.bundle import MAX_BUNDLE_BYTES, MAX_FILES, Bundle, BundleRejected, read_upload, unpack
from runs.engine.findings import find_problems


def a_zip(files: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def a_tar(members: list[tarfile.TarInfo], contents: dict[str, bytes] | None = None, mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for info in members:
            content = (contents or {}).get(info.name, b"")
            info.size = len(content) if info.isfile() else 0
            archive.addfile(info, io.BytesIO(content) if info.isfile() else None)
    return buffer.getvalue()


def rejection(raw: bytes, name: str, entry: str = "") -> str:
    with pytest.raises(BundleRejected) as rejected:
        read_upload(raw, name, entry)
    return " ".join(rejected.value.problems)


def test_a_zipped_folder_is_the_bundle_and_its_entry_is_found() -> None:
    raw = a_zip({"suite/script.js": b"export default function () {}", "suite/lib/a.js": b"", "suite/data/u.csv": b"a,b"})
    bundle = read_upload(raw, "suite.zip")
    assert (bundle.entry, sorted(bundle.files)) == ("script.js", ["data/u.csv", "lib/a.js", "script.js"])
    assert unpack(bundle.pack()) == bundle.files


@pytest.mark.parametrize(
    "files, entry, expected",
    [
        ({"index.ts": b"", "other.js": b""}, "", "index.ts"),
        ({"load.js": b"", "lib/x.js": b""}, "", "load.js"),  # the only top-level script
        ({"a.js": b"", "b.js": b""}, "b.js", "b.js"),
        ({"a.js": b"", "b.js": b""}, "./b.js", "b.js"),
    ],
)
def test_the_entry_is_the_one_asked_or_the_obvious_one(files: dict[str, bytes], entry: str, expected: str) -> None:
    assert read_upload(a_zip(files), "x.zip", entry).entry == expected


def test_an_ambiguous_or_missing_entry_says_what_to_do() -> None:
    assert "Say which file to run" in rejection(a_zip({"a.js": b"", "b.js": b""}), "x.zip")
    assert "'c.js' is not in the bundle; it holds a.js, b.js" in rejection(a_zip({"a.js": b"", "b.js": b""}), "x.zip", "c.js")
    assert "not a script" in rejection(a_zip({"a.js": b"", "d.json": b""}), "x.zip", "d.json")


@pytest.mark.parametrize("path", ["../evil.js", "/etc/cron.d/evil.js", "a/../../evil.js", "C:/evil.js", "..\\evil.js"])
def test_paths_outside_the_bundle_are_refused(path: str) -> None:
    assert "points outside the bundle" in rejection(a_zip({"script.js": b"", path: b"x"}), "x.zip")


def test_links_and_devices_are_refused() -> None:
    link = tarfile.TarInfo("script.js")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    assert "symbolic link or device" in rejection(a_tar([link]), "x.tar.gz")
    device = tarfile.TarInfo("dev.js")
    device.type = tarfile.CHRTYPE
    assert "symbolic link or device" in rejection(a_tar([device]), "x.tar.gz")
    zipped_link = io.BytesIO()
    with zipfile.ZipFile(zipped_link, "w") as archive:
        info = zipfile.ZipInfo("script.js")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    assert "symbolic link" in rejection(zipped_link.getvalue(), "x.zip")


def test_a_zip_bomb_is_stopped_by_what_is_read_not_what_the_header_says() -> None:
    bomb = a_zip({"script.js": b"", "data.bin": b"\0" * (MAX_BUNDLE_BYTES + 1)}, zipfile.ZIP_DEFLATED)
    assert len(bomb) < 100_000
    assert "unpacks to more than" in rejection(bomb, "bomb.zip")


def test_too_many_files_and_a_file_too_big_are_refused_with_the_limits() -> None:
    many = a_zip({f"f{i}.json": b"" for i in range(MAX_FILES + 1)} | {"script.js": b""})
    assert f"more than {MAX_FILES} files" in rejection(many, "many.zip")
    big = rejection(b"//" + b"x" * (2 * 1024 * 1024), "big.js")
    assert "the limit is 2097152 bytes" in big and "MB per script file" in big


def test_garbage_and_unknown_kinds_are_clear_errors() -> None:
    assert "cannot be read" in rejection(b"not a zip", "x.zip")
    assert "cannot be read as a tar" in rejection(b"not a tar", "x.tar.gz")
    assert "is not a k6 script or bundle" in rejection(b"print(1)", "load.py")
    assert "reserved for k6intel" in rejection(a_zip({"script.js": b"", ".k6intel/summary.json": b"{}"}), "x.zip")


def findings_of(files: dict[str, bytes], entry: str = "script.js", **bundle: Any) -> list[str]:
    return [str(finding) for finding in find_problems(Bundle(files, entry, **bundle))]


def test_handle_summary_ternaries_json_keys_and_case_labels_are_not_findings() -> None:
    script = b"""
export function handleSummary(data) {
  console.log(data.ok ? "\xe2\x9c\x85" : "\xe2\x9d\x8c");
  switch (data.kind) { case "x": break; }
  const json = { "p95_ms": 1, 'rps': 2 };
  return { 'summary.html': '<p>x</p>', "summary.json": JSON.stringify(json), [`${data.name}.txt`]: 'x', stdout: 'ok' };
}
export default function () {}
"""
    assert findings_of({"script.js": script}) == []


def test_urls_in_comments_and_strings_are_not_imports() -> None:
    script = b"""// import x from 'https://evil.example/x.js'
/* require('https://evil.example/y.js') */
const doc = "import z from 'https://evil.example/z.js'";
export default function () {}
"""
    assert findings_of({"script.js": script}) == []


def test_every_finding_in_every_file_at_once(settings: Any) -> None:
    settings.MODULE_HOSTS = ["jslib.k6.io"]
    files = {
        "script.js": b"import a from 'https://cdn.example.com/a.js';\nimport s from 'k6/x/sql';\nimport b from './lib/b.js';\n"
        b"export default function () {}\n",
        "lib/b.js": b"import _ from 'lodash';\nimport m from '../missing.js';\nconst d = open('../data/none.json');\n"
        b"const p = open('/etc/passwd');\nconst u = 'http://169.254.169.254/latest';\nimport c from 'http://jslib.k6.io/c.js';\n",
    }
    assert findings_of(files) == [
        "script.js line 1: imports https://cdn.example.com/a.js: cdn.example.com is not in MODULE_HOSTS (now: jslib.k6.io). "
        "Ask an admin to add it, or put the file in the bundle.",
        "script.js line 2: uses the k6 extension 'k6/x/sql'; extensions are not available here.",
        "lib/b.js line 1: imports 'lodash': k6 has no npm packages; bundle the library (e.g. with esbuild) or import it by URL.",
        "lib/b.js line 2: imports '../missing.js', which is not in the bundle.",
        "lib/b.js line 3: opens '../data/none.json', which is not in the bundle; add it to the .zip or .tar.gz.",
        "lib/b.js line 4: opens '/etc/passwd', outside the bundle; only files in the bundle can be read.",
        "lib/b.js line 5: targets 169.254.169.254: 169.254.169.254 is a link-local or cloud-metadata address; "
        "k6intel never sends load there.",
        "lib/b.js line 6: imports http://jslib.k6.io/c.js: k6 loads remote modules only over https://.",
    ]


def test_opens_and_imports_resolve_from_the_file_that_makes_them() -> None:
    files = {
        "script.js": b"import { rows } from './lib/data.js';\nexport default function () {}\n",
        "lib/data.js": b"export const rows = JSON.parse(open('../data/rows.json'));\nconst again = open('./local.txt');\n",
        "lib/local.txt": b"x",
        "data/rows.json": b"[]",
    }
    assert findings_of(files) == []


def test_k6_browser_tests_are_refused_before_anything_runs() -> None:
    for module in (b"k6/browser", b"k6/experimental/browser"):
        found = findings_of({"script.js": b"import { browser } from '" + module + b"';\nexport default async function () {}\n"})
        assert len(found) == 1 and "k6 browser tests cannot run here" in found[0]


def test_only_gzip_or_plain_tars_and_skipped_members_count_toward_the_limit() -> None:
    script = tarfile.TarInfo("script.js")
    assert "plain or gzip" in rejection(a_tar([script], mode="w:bz2"), "x.tar")
    padding = tarfile.TarInfo("node_modules/pad")  # skipped, but tarfile would unpack it to step over it
    padding_bytes = b"\0" * (MAX_BUNDLE_BYTES + 1)
    assert "unpacks to more than" in rejection(a_tar([padding, script], {"node_modules/pad": padding_bytes}), "x.tar.gz")


def test_a_damaged_or_locked_zip_is_a_rejection_not_an_error() -> None:
    good = a_zip({"script.js": b"export default function () {}" * 20}, zipfile.ZIP_DEFLATED)
    damaged = bytearray(good)
    damaged[good.index(b"script.js") + 20] ^= 0xFF  # inside the compressed data
    assert "cannot be read" in rejection(bytes(damaged), "x.zip")
    locked = bytearray(good)
    locked[6] |= 0x1  # the local header's "encrypted" flag
    central = good.rindex(b"PK\x01\x02")
    locked[central + 8] |= 0x1
    assert "cannot be read" in rejection(bytes(locked), "x.zip")


def test_a_file_where_a_folder_must_be_and_k6intels_folder_inside_a_folder_are_refused() -> None:
    assert "both a file and a folder" in rejection(a_zip({"script.js": b"", "lib": b"", "lib/a.js": b""}), "x.zip")
    hidden = a_zip({"suite/script.js": b"", "suite/.k6intel/summary.json": b"{}"})
    assert "reserved for k6intel" in rejection(hidden, "x.zip")
