"""An uploaded k6 suite as a set of files with an entry point.

A user brings one `.js`/`.ts` file, a `.zip` / `.tar.gz` / `.tar` of a folder,
or a `k6 archive` tar. Every form becomes a `Bundle`: relative POSIX paths to
bytes, and the entry file k6 runs. Archives are read defensively: no absolute
paths, no `..`, no links or devices, and sizes are checked from what is
actually read, never from what a header claims. A `k6 archive` is kept whole
(k6 runs it as it is, remote modules included) and its files are read only to
be checked.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import orjson

SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
DEFAULT_ENTRIES = ("script.js", "index.js", "script.ts", "index.ts", "main.js", "main.ts")
K6_ARCHIVE_NAME = "archive.tar"
K6_ARCHIVE_MARKERS = {"metadata.json", "data"}
MAX_SCRIPT_FILE_BYTES = 2 * 1024 * 1024  # one script file, as before bundles
MAX_FILE_BYTES = 10 * 1024 * 1024  # one data file (SharedArray CSV/JSON)
MAX_BUNDLE_BYTES = 20 * 1024 * 1024  # everything, unpacked
MAX_FILES = 500
MAX_UPLOAD_BYTES = 4 * 1024 * 1024  # what is uploaded (a .zip or .tar.gz compressed); MAX_REQUEST_BYTES is above it
GZIP_MAGIC = b"\x1f\x8b"
RESERVED_DIR = ".k6intel"  # where the platform's own files go beside the suite (k6.OUTPUT_DIR)
IGNORED_PARTS = ("__MACOSX", ".git", "node_modules")
SIZE_LIMITS = (
    f"Limits: {MAX_UPLOAD_BYTES // 2**20} MB uploaded, {MAX_SCRIPT_FILE_BYTES // 2**20} MB per script file, {MAX_FILE_BYTES // 2**20} MB per data file, "
    f"{MAX_BUNDLE_BYTES // 2**20} MB and {MAX_FILES} files per bundle, unpacked."
)


class BundleRejected(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Bundle:
    files: dict[str, bytes]
    entry: str
    k6_archive: bool = False  # the entry is a `k6 archive` tar, run as it is
    modules: list[dict[str, str]] = field(default_factory=list)  # remote modules placed in it: url, path, sha256

    def scripts(self) -> Iterator[tuple[str, bytes]]:
        """Every script file: the bundle's own, or those inside a k6 archive."""
        if self.k6_archive:
            yield from _archive_scripts(self.files[self.entry])
            return
        for path, content in sorted(self.files.items()):
            if path.endswith(SCRIPT_SUFFIXES):
                yield path, content

    def entry_source(self) -> str:
        """The entry script's text (for a k6 archive, the main script it holds)."""
        raw = _archive_member(self.files[self.entry], "data") if self.k6_archive else self.files[self.entry]
        return (raw or b"").decode("utf-8", "replace")

    def size_bytes(self) -> int:
        return sum(len(content) for content in self.files.values())

    def pack(self) -> bytes:
        """The files as a gzipped tar, for storage with the run."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path, content in sorted(self.files.items()):
                info = tarfile.TarInfo(path)
                info.size = len(content)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue()


def unpack(packed: bytes) -> dict[str, bytes]:
    """A stored run's files (what `Bundle.pack` wrote)."""
    return dict(_tar_members(packed, "stored bundle"))


def read_upload(raw: bytes, filename: str, entry: str = "") -> Bundle:
    """The bundle in an upload, or BundleRejected listing every problem with it."""
    name = posixpath.basename(filename.replace("\\", "/")) or "script.js"
    lower = name.lower()
    if lower.endswith(SCRIPT_SUFFIXES):
        files = {name: raw}
        entry = entry or name
    elif lower.endswith(".zip"):
        files = _checked(_zip_members(raw))
    elif lower.endswith((".tar.gz", ".tgz", ".tar")):
        members = _checked(_tar_members(raw, name))
        if K6_ARCHIVE_MARKERS <= set(members):
            _check_sizes({K6_ARCHIVE_NAME: raw})
            return Bundle({K6_ARCHIVE_NAME: raw}, K6_ARCHIVE_NAME, k6_archive=True)
        files = members
    else:
        raise BundleRejected(
            [
                f"{name!r} is not a k6 script or bundle: upload a .js or .ts file, a .zip, .tar.gz or .tar of a folder, or a k6 archive."
            ]
        )
    files = _without_common_folder(files)
    _check_layout(files)
    bundle = Bundle(files, _entry(files, entry))
    _check_sizes(files)
    return bundle


def _entry(files: dict[str, bytes], asked: str) -> str:
    asked = asked.strip().lstrip("./") if asked else ""
    if asked:
        if asked not in files:
            raise BundleRejected([f"The entry point {asked!r} is not in the bundle; it holds {_listing(files)}."])
        if not asked.endswith(SCRIPT_SUFFIXES):
            raise BundleRejected([f"The entry point {asked!r} is not a script (.js or .ts)."])
        return asked
    for default in DEFAULT_ENTRIES:
        if default in files:
            return default
    top_level = [path for path in files if "/" not in path and path.endswith(SCRIPT_SUFFIXES)]
    if len(top_level) == 1:
        return top_level[0]
    raise BundleRejected(
        [f"Say which file to run (entry): the bundle has no script.js or index.js and {len(top_level)} top-level scripts."]
    )


def _listing(files: dict[str, bytes]) -> str:
    names = sorted(files)
    return ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _without_common_folder(files: dict[str, bytes]) -> dict[str, bytes]:
    """A zip of a folder holds `suite/script.js`: the folder is the bundle."""
    tops = {path.split("/", 1)[0] for path in files}
    if len(tops) == 1 and all("/" in path for path in files):
        prefix = next(iter(tops)) + "/"
        return {path[len(prefix) :]: content for path, content in files.items()}
    return files


def _check_layout(files: dict[str, bytes]) -> None:
    """Paths that can be written as they are: none in k6intel's own folder, no file where a folder must be."""
    folders = {"/".join(path.split("/")[:depth]) for path in files for depth in range(1, path.count("/") + 1)}
    problems = [f"{path!r} is both a file and a folder in the bundle." for path in sorted(folders & set(files))]
    problems += [f"{path!r}: the folder {RESERVED_DIR}/ is reserved for k6intel's own files." for path in sorted(files)
                 if path.split("/", 1)[0] == RESERVED_DIR]  # fmt: skip
    if problems:
        raise BundleRejected(problems)


def _checked(members: Iterator[tuple[str, bytes]]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path, content in members:
        files[path] = content
        if len(files) > MAX_FILES:
            raise BundleRejected([f"The bundle has more than {MAX_FILES} files. {SIZE_LIMITS}"])
    if not files:
        raise BundleRejected(["The bundle is empty."])
    return files


def _check_sizes(files: dict[str, bytes]) -> None:
    problems = []
    for path, content in sorted(files.items()):
        limit = MAX_SCRIPT_FILE_BYTES if path.endswith(SCRIPT_SUFFIXES) else MAX_FILE_BYTES
        if path != K6_ARCHIVE_NAME and len(content) > limit:
            problems.append(f"{path} is {len(content)} bytes; the limit is {limit} bytes.")
    total = sum(len(content) for content in files.values())
    if total > MAX_BUNDLE_BYTES:
        problems.append(f"The bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes.")
    if problems:
        raise BundleRejected([*problems, SIZE_LIMITS])


def _safe_path(raw_path: str) -> str | None:
    """The member's path inside the bundle, None to skip it; BundleRejected when it points outside."""
    path = raw_path.replace("\\", "/")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if path.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise BundleRejected([f"{raw_path!r} points outside the bundle; use paths inside the folder."])
    if not parts or any(part in IGNORED_PARTS for part in parts):
        return None
    if parts[0] == RESERVED_DIR:
        raise BundleRejected([f"{raw_path!r}: the folder {RESERVED_DIR}/ is reserved for k6intel's own files."])
    return "/".join(parts)


def _zip_members(raw: bytes) -> Iterator[tuple[str, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise BundleRejected([f"The .zip cannot be read: {exc}."]) from None
    read_bytes = 0
    with archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleRejected([f"{info.filename!r} is a symbolic link; bundles hold regular files only."])
            path = _safe_path(info.filename)
            if path is None:
                continue
            try:
                content = _read_capped(archive.open(info), MAX_BUNDLE_BYTES - read_bytes, info.filename)
            except (zipfile.BadZipFile, RuntimeError, NotImplementedError, zlib.error, EOFError, OSError) as exc:
                # A bad CRC, a password, a compression zipfile lacks (Deflate64, AES): all the user's to fix.
                raise BundleRejected([f"{info.filename!r} in the .zip cannot be read: {exc}."]) from None
            read_bytes += len(content)
            yield path, content


def _tar_members(raw: bytes, name: str) -> Iterator[tuple[str, bytes]]:
    # gzip or none: bzip2 and xz would let a few kilobytes unpack to terabytes before any check.
    mode = "r:gz" if raw[:2] == GZIP_MAGIC else "r:"
    try:
        archive = tarfile.open(fileobj=io.BytesIO(raw), mode=mode)  # type: ignore[call-overload]
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise BundleRejected([f"{name!r} cannot be read as a tar archive (plain or gzip): {exc}."]) from None
    read_bytes = declared_bytes = 0
    seen: dict[str, bytes] = {}
    with archive:
        try:
            for info in archive:
                # Every member counts, skipped ones too: tarfile unpacks a member's data to step over it.
                declared_bytes += max(info.size, 0)
                if declared_bytes > MAX_BUNDLE_BYTES:
                    raise BundleRejected([f"The bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes. {SIZE_LIMITS}"])
                if info.isdir():
                    continue
                path = _safe_path(info.name)
                if info.islnk() and path is not None:  # k6 archive links its entry file to `data`: same bytes again
                    content = seen.get(_safe_path(info.linkname) or "", b"")
                elif not info.isfile():
                    raise BundleRejected([f"{info.name!r} is a symbolic link or device; bundles hold regular files only."])
                elif path is None or (extracted := archive.extractfile(info)) is None:
                    continue
                else:
                    content = _read_capped(extracted, MAX_BUNDLE_BYTES - read_bytes, info.name)
                read_bytes += len(content)
                if read_bytes > MAX_BUNDLE_BYTES:
                    raise BundleRejected([f"The bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes. {SIZE_LIMITS}"])
                seen[path] = content
                yield path, content
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BundleRejected([f"{name!r} is damaged: {exc}."]) from None


def _read_capped(stream: IO[bytes], allowance: int, name: str) -> bytes:
    """Read at most the allowance (a zip bomb's header lies about its size; the stream does not)."""
    with stream:
        content = stream.read(max(allowance, 0) + 1)
    if len(content) > allowance:
        raise BundleRejected([f"The bundle unpacks to more than {MAX_BUNDLE_BYTES} bytes (at {name!r}). {SIZE_LIMITS}"])
    return content


def _archive_member(raw: bytes, wanted: str) -> bytes | None:
    return dict(_tar_members(raw, K6_ARCHIVE_NAME)).get(wanted)


def _archive_scripts(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """A k6 archive's scripts: its main script (`data`) and the local and remote modules it carries."""
    members = dict(_tar_members(raw, K6_ARCHIVE_NAME))
    metadata = orjson.loads(members.get("metadata.json") or b"{}")
    main = posixpath.basename(str(metadata.get("filename") or "script.js"))
    main_source = members.get("data", b"")
    yield main, main_source
    for path, content in sorted(members.items()):
        if content is main_source:  # the entry file is a hard link to `data`
            continue
        if path.endswith(SCRIPT_SUFFIXES) and path.split("/", 1)[0] in ("file", "https", "http"):
            yield path, content
