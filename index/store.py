"""The persisted index: a versioned folder with a manifest, switched atomically.

Layout under the index root::

    LIVE                      name of the live version (replaced with os.replace)
    versions/<version>/       one immutable build: manifest.json + artifacts
    versions/.build-<random>/ a build in progress (never read)

A build is written beside the live version and becomes live by one atomic
rename of the LIVE pointer, so a reader sees either the old index or the new
one, never half of one. Loading verifies every artifact against the
manifest's checksums and refuses anything that does not match.
"""

from __future__ import annotations

import hashlib
import json
import os
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


class IndexStoreError(Exception):
    """The index on disk is missing, corrupt or does not fit the corpus/embedder."""


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
    format: int = FORMAT

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


def write_version(root: Path, write_artifacts: Callable[[Path], Manifest]) -> Path:
    """Build a new version beside the live one and make it live atomically.

    ``write_artifacts(folder)`` writes the files into ``folder`` and returns the
    manifest (without artifact checksums; they are computed here).
    """
    versions = root / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".build-", dir=versions))
    try:
        manifest = write_artifacts(building)
        manifest.artifacts = {
            p.relative_to(building).as_posix(): sha256_file(p)
            for p in sorted(building.rglob("*")) if p.is_file() and p.name != MANIFEST
        }
        _write_atomic(building / MANIFEST, manifest.to_json())
        final = versions / manifest.version
        if final.exists():  # same version built again (e.g. two rebuilds in one second)
            shutil.rmtree(final)
        os.rename(building, final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    _write_atomic(root / LIVE, manifest.version + "\n")
    _prune(versions, keep=manifest.version)
    return final


def new_version_name(corpus_hash: str) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"-{time.time_ns() % 1_000_000:06d}-{corpus_hash[:8]}"


def _write_atomic(path: Path, text: str) -> None:
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _prune(versions: Path, keep: str) -> None:
    """Keep the newest few versions: readers that still hold an old one keep working."""
    built = sorted((p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for old in built[:-KEEP_VERSIONS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    stale_builds = [p for p in versions.glob(".build-*") if time.time() - p.stat().st_mtime > 3600]
    for stale in stale_builds:
        shutil.rmtree(stale, ignore_errors=True)
