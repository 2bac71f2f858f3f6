"""The persisted index: a versioned folder with a manifest, switched atomically.

Layout under the index root::

    LIVE                           name of the live version (replaced with os.replace)
    versions/<version>/            one immutable build: manifest.json + artifacts
    versions/.build-<pid>-<random>/ a build in progress (never read)
    .<name>.tmp-<pid>-<random>     a file being written atomically

A build is written beside the live version and becomes live by one atomic
rename of the LIVE pointer, so a reader sees either the old index or the new
one, never half of one. Loading verifies every artifact against the
manifest's checksums and refuses anything that does not match.

Faults. Before a build, the free space is checked against an estimate of the
new version's size; when it is short, old versions (all but the live one) are
pruned first, and when it is still short the build stops with
:class:`DiskFullError` before writing anything. A write that fails with ENOSPC
(or that fails while the disk has less room than the build needs) also ends in
DiskFullError; the half-written folder is removed and LIVE is untouched. A
process killed mid-build leaves its ``.build-<pid>-*`` folder and temporary
files behind: :func:`clean_leftovers` removes those whose process is gone.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

FORMAT = 1
MANIFEST = "manifest.json"
LIVE = "LIVE"
KEEP_VERSIONS = 3
REBUILD_HINT = "rebuild it with `policyqa index`"
BUILD_PREFIX = ".build-"
STALE_AFTER_SECONDS = 3600  # leftovers whose process cannot be told: removed after an hour
PRUNE_GRACE_SECONDS = 60  # versions beyond KEEP_VERSIONS are pruned once older than this (unless space is short)
MIB = 1024 * 1024
_OWNED = re.compile(r"^\.(?:build-|.+\.tmp-)(\d+)-")  # .build-<pid>-x, .<name>.tmp-<pid>-x
_UNOWNED_TEMP = re.compile(r"^\.(?:build-|LIVE\.)")  # names written before the pid was part of them


class IndexStoreError(Exception):
    """The index on disk is missing, corrupt or does not fit the corpus/embedder."""


class DiskFullError(IndexStoreError):
    """No room for a new index version.

    ``path`` is the folder written to, ``free_bytes`` what the disk had left and
    ``needed_bytes`` the estimated size of the version; the message gives both in
    MiB. Raised before anything is written when the space is short even after
    pruning old versions, or when a write fails with ENOSPC/EDQUOT. The live
    version is never touched.
    """

    def __init__(self, path: Path | str, free_bytes: int, needed_bytes: int, live: bool = True):
        self.path, self.free_bytes, self.needed_bytes, self.live = Path(path), free_bytes, needed_bytes, live
        keeps = "the live index is unchanged; " if live else ""
        super().__init__(f"disk full at {self.path}: {_mib(free_bytes)} MiB free, the index needs about "
                         f"{_mib(needed_bytes)} MiB; {keeps}free some space or move POLICYQA_HOME to a larger disk")

    def __reduce__(self):  # pickled across the process that builds in the background
        return DiskFullError, (self.path, self.free_bytes, self.needed_bytes, self.live)


class IndexMissingError(IndexStoreError):
    pass


class IndexMismatchError(IndexStoreError):
    """A valid index built from another corpus or with another embedder: rebuild."""


@dataclass
class Manifest:
    version: str
    created_at: str
    corpus_hash: str
    files: dict[str, str]  # corpus file → sha256
    embedder: str
    dim: int
    faiss_kind: str
    counts: dict[str, int]  # documents, measures, chunks, vectors
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact file → sha256
    build_seconds: float = 0.0
    embedded: int = 0  # texts embedded by this build (the others' vectors were reused)
    format: int = FORMAT
    record_format: int = 1  # corpus.records.RECORD_FORMAT of the records the chunks were made from
    knowledge: dict[str, str] = field(default_factory=dict)  # word list / data file → sha256 prefix
    tokenizer: dict = field(default_factory=dict)  # the tokenizer's settings (user terms count, bigrams, …)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Manifest":
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"manifest format {data.get('format') if isinstance(data, dict) else '?'} is not {FORMAT}")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def live_version_dir(root: Path) -> Path | None:
    pointer = root / LIVE
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise IndexStoreError(f"cannot read {pointer}: {exc}; {REBUILD_HINT}") from exc
    if not name or "/" in name or name.startswith("."):
        raise IndexStoreError(f"{pointer} names no valid version ({name!r}); {REBUILD_HINT}")
    return root / "versions" / name


def read_manifest(version_dir: Path, verify: bool = True) -> Manifest:
    """The manifest of one version, with every artifact checked against its checksum."""
    path = version_dir / MANIFEST
    if not version_dir.is_dir():
        raise IndexMissingError(f"index version folder {version_dir} is missing; {REBUILD_HINT}")
    try:
        manifest = Manifest.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise IndexStoreError(f"{path} is missing: the index is incomplete; {REBUILD_HINT}") from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexStoreError(f"{path} is unreadable or corrupt ({exc}); {REBUILD_HINT}") from exc
    if verify:
        for name, expected in manifest.artifacts.items():
            artifact = version_dir / name
            if not artifact.is_file():
                raise IndexStoreError(f"index file {artifact} is missing; {REBUILD_HINT}")
            if sha256_file(artifact) != expected:
                raise IndexStoreError(f"index file {artifact} is truncated or corrupt (checksum differs); {REBUILD_HINT}")
    return manifest


@dataclass(frozen=True)
class Leftover:
    """A file or folder an interrupted build left behind (removed by clean_leftovers)."""

    path: Path
    bytes: int
    owner_pid: int | None  # the process that wrote it, when its name says so

    def describe(self) -> str:
        owner = f"pid {self.owner_pid}" if self.owner_pid is not None else "unknown process"
        return f"{self.path.name} ({_kib(self.bytes)} KiB, {owner})"


def clean_leftovers(root: Path) -> list[Leftover]:
    """Remove what interrupted builds left under ``root``; return what was removed.

    ``.build-<pid>-*`` folders in ``versions/`` and ``.<name>.tmp-<pid>-*`` files
    (in ``root`` and ``versions/``) are removed when process ``pid`` no longer
    runs (a kill -9, a crash, a power cut); ones of a running build stay. Names
    without a pid (written by older versions) are removed after an hour.
    """
    removed: list[Leftover] = []
    for folder in (root, root / "versions"):
        try:
            entries = list(folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            continue
        for path in entries:
            match = _OWNED.match(path.name)
            pid = int(match.group(1)) if match else None
            if pid is not None:
                if _process_alive(pid):
                    continue
            elif not _UNOWNED_TEMP.match(path.name) or not _older_than(path, STALE_AFTER_SECONDS):
                continue
            size = _tree_bytes(path)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            if not path.exists():
                removed.append(Leftover(path, size, pid))
    return removed


def version_bytes(version_dir: Path) -> int:
    """The size of one version folder on disk, in bytes (0 when it is missing)."""
    return _tree_bytes(version_dir) if version_dir.is_dir() else 0


def ensure_space(root: Path, needed_bytes: int, say: Callable[[str], None] = lambda m: None) -> None:
    """Make sure ``needed_bytes`` fit under ``root`` before a build, pruning old versions if they do not.

    Old versions are pruned (all but the live one, saying so) only when the space
    is short, so a disk that holds two versions can still rebuild. Raises
    DiskFullError when the space is still short after that.
    """
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(versions).free
    if free >= needed_bytes:
        return
    live = _live_name(root)
    pruned = [p for p in _built_versions(versions) if p.name != live]
    for old in pruned:
        shutil.rmtree(old, ignore_errors=True)
    if pruned:
        free = shutil.disk_usage(versions).free
        say(f"low disk space: removed {len(pruned)} old index version(s) ({', '.join(p.name for p in pruned)}); "
            f"{_mib(free)} MiB free now")
    if free < needed_bytes:
        raise DiskFullError(versions, free, needed_bytes, live=live is not None)


class VersionBuild:
    """A new version being written into ``versions/.build-<pid>-<random>/``; see :func:`new_version`."""

    def __init__(self, root: Path, folder: Path, needed_bytes: int):
        self.root, self.folder, self.needed_bytes = root, folder, needed_bytes
        self.path: Path | None = None  # the version folder, once committed

    def commit(self, manifest: Manifest) -> Path:
        """Checksum the artifacts, write the manifest, rename the folder and make it live."""
        manifest.artifacts = {
            p.relative_to(self.folder).as_posix(): sha256_file(p)
            for p in sorted(self.folder.rglob("*")) if p.is_file() and p.name != MANIFEST
        }
        _write_atomic(self.folder / MANIFEST, manifest.to_json())
        versions = self.folder.parent
        final = versions / manifest.version
        if final.exists():  # same version built again (e.g. two rebuilds in one second)
            shutil.rmtree(final)
        os.rename(self.folder, final)
        try:
            _write_atomic(self.root / LIVE, manifest.version + "\n")
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        self.path = final
        _prune(versions, keep=manifest.version)
        return final


class new_version:  # noqa: N801 - used as a context manager: ``with new_version(root, needed) as build:``
    """Open a build folder beside the live version; on leaving the block, remove it unless committed.

    Entering cleans leftovers of interrupted builds (reported through ``say``) and
    checks the space (:func:`ensure_space`). A failed write is turned into
    DiskFullError when it was ENOSPC/EDQUOT or when the disk has less room than
    the build needs, into IndexStoreError for any other OSError; the folder is
    removed and LIVE stays as it was.
    """

    def __init__(self, root: Path, needed_bytes: int, say: Callable[[str], None] = lambda m: None):
        self.root, self.needed_bytes, self.say = Path(root), needed_bytes, say
        self.build: VersionBuild | None = None

    def __enter__(self) -> VersionBuild:
        report_leftovers(self.root, self.say)
        ensure_space(self.root, self.needed_bytes, self.say)
        versions = self.root / "versions"
        folder = versions / f"{BUILD_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except OSError as exc:
            raise self._write_error(exc) from exc
        self.build = VersionBuild(self.root, folder, self.needed_bytes)
        return self.build

    def __exit__(self, kind, exc, tb) -> bool:
        build = self.build
        if build is None or build.path is not None or not isinstance(exc, Exception):
            if build is not None and build.path is None:
                shutil.rmtree(build.folder, ignore_errors=True)  # KeyboardInterrupt, SystemExit
            return False
        failure = self._write_error(exc, written=_tree_bytes(build.folder))  # before the folder goes
        shutil.rmtree(build.folder, ignore_errors=True)
        if failure is not exc:
            raise failure from exc
        return False

    def _write_error(self, exc: BaseException, written: int = 0) -> BaseException:
        """DiskFullError when the disk is the cause, IndexStoreError for another OSError, else ``exc``."""
        versions = self.root / "versions"
        try:
            free = shutil.disk_usage(versions).free
        except OSError:
            free = 0
        live = _live_name(self.root) is not None
        os_error = exc if isinstance(exc, OSError) else _caused_by_os_error(exc)
        if (os_error is not None and os_error.errno in (errno.ENOSPC, errno.EDQUOT)) or \
                free + written < self.needed_bytes:
            return DiskFullError(versions, free + written, self.needed_bytes, live=live)
        if isinstance(exc, OSError):
            unchanged = "; the live index is unchanged" if live else ""
            return IndexStoreError(f"cannot write the index in {versions}: {exc.strerror or exc}{unchanged}")
        return exc


def report_leftovers(root: Path, say: Callable[[str], None]) -> list[Leftover]:
    """clean_leftovers, saying what was removed (one line) when anything was."""
    removed = clean_leftovers(root)
    if removed:
        say(f"removed what an interrupted index build left in {root}: " + ", ".join(r.describe() for r in removed))
    return removed


def write_version(root: Path, write_artifacts: Callable[[Path], Manifest], needed_bytes: int = 0,
                  say: Callable[[str], None] = lambda m: None) -> Path:
    """Build a new version beside the live one and make it live atomically.

    ``write_artifacts(folder)`` writes the files into ``folder`` and returns the
    manifest (without artifact checksums; they are computed here). Raises
    DiskFullError / IndexStoreError as :class:`new_version` describes.
    """
    with new_version(root, needed_bytes, say) as build:
        return build.commit(write_artifacts(build.folder))


def new_version_name(corpus_hash: str) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}-{corpus_hash[:8]}"


def _write_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _built_versions(versions: Path) -> list[Path]:
    """Committed versions, oldest first (names start with their UTC build time)."""
    return sorted((p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


def _live_name(root: Path) -> str | None:
    try:
        return (root / LIVE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _prune(versions: Path, keep: str) -> None:
    """Keep the newest few versions, and any written in the last minute: a reader that is still
    loading an old one (several rebuilds can finish while it reads) is not cut off."""
    for old in _built_versions(versions)[:-KEEP_VERSIONS]:
        if old.name != keep and _older_than(old, PRUNE_GRACE_SECONDS):
            shutil.rmtree(old, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped, counts as gone)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _tree_bytes(path: Path) -> int:
    try:
        if path.is_dir() and not path.is_symlink():
            return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file())
        return path.lstat().st_size
    except OSError:
        return 0


def _caused_by_os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (a library error raised from one), if any."""
    seen = exc.__cause__ or exc.__context__
    while seen is not None:
        if isinstance(seen, OSError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _mib(n: int) -> str:
    """MiB with two significant-ish digits: 0.04, 3.2, 512."""
    return f"{n / MIB:.2f}" if n < MIB else f"{n / MIB:.1f}" if n < 10 * MIB else f"{n / MIB:.0f}"


def _kib(n: int) -> str:
    return f"{n / 1024:.0f}"
