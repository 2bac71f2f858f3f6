"""Load a corpus folder: every readable document, parsed, with a stable doc_id.

A bad file never stops the others: its problem is reported (file name and
what was wrong) and loading goes on.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import CorpusNotFoundError, DocumentReadError
from corpus.parsing import parse_document
from corpus.reading import iter_corpus_files, read_text
from corpus.records import Document

BUNDLED_CORPUS = Path(__file__).parent / "documents"
SIDECAR_SUFFIX = ".meta.json"
SIDECAR_FIELDS = ("doc_id", "title", "doc_number", "issuer", "issued_on", "notice_title")


@dataclass
class CorpusLoad:
    folder: Path
    documents: list[Document] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "file: what was wrong"
    file_hashes: dict[str, str] = field(default_factory=dict)  # relative path → sha256

    @property
    def corpus_hash(self) -> str:
        digest = hashlib.sha256()
        for name, file_hash in sorted(self.file_hashes.items()):
            digest.update(f"{name}\0{file_hash}\n".encode())
        return digest.hexdigest()

    def document(self, doc_id: str) -> Document | None:
        return next((d for d in self.documents if d.doc_id == doc_id), None)


def slug(relative: Path) -> str:
    """A doc_id from the file's path inside the corpus: stable across runs and machines."""
    stem = relative.with_suffix("").as_posix()
    stem = re.sub(r"[\s/\\]+", "-", stem)
    stem = re.sub(r"[^\w\-.\u4e00-\u9fff]", "", stem).strip("-.")
    return stem or "document"


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> tuple[dict, str | None]:
    """Facts added beside a document (its text stays unchanged): doc_id, title, ..."""
    side = sidecar_path(path)
    if not side.exists():
        return {}, None
    try:
        data = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, f"{side.name}: sidecar ignored, not valid UTF-8 JSON ({exc})"
    if not isinstance(data, dict):
        return {}, f"{side.name}: sidecar ignored, expected a JSON object"
    return {k: str(v) for k, v in data.items() if k in SIDECAR_FIELDS and v}, None


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_corpus(folder: Path | str | None = None) -> CorpusLoad:
    """Parse every supported file under ``folder`` (the bundled corpus by default)."""
    folder = Path(folder) if folder is not None else BUNDLED_CORPUS
    if not folder.is_dir():
        raise CorpusNotFoundError(f"corpus folder {folder} does not exist or is not a folder")
    load = CorpusLoad(folder=folder)
    seen: set[str] = set()
    for path in iter_corpus_files(folder):
        relative = path.relative_to(folder)
        meta, problem = read_sidecar(path)
        if problem:
            load.problems.append(problem)
        try:
            load.file_hashes[relative.as_posix()] = file_hash(path)
            raw = read_text(path)
        except DocumentReadError as exc:
            load.problems.append(str(exc))
            continue
        except OSError as exc:
            load.problems.append(f"{path.name}: cannot be read ({exc.strerror or exc})")
            continue
        doc_id = meta.get("doc_id") or slug(relative)
        base, n = doc_id, 2
        while doc_id in seen:
            doc_id, n = f"{base}-{n}", n + 1
        seen.add(doc_id)
        document = parse_document(raw.text, doc_id=doc_id, source=relative.as_posix(), meta=meta)
        if not document.measures:
            load.problems.append(f"{path.name}: no measures or text records found; nothing to search in it")
        load.problems.extend(f"{path.name}: {p}" for p in document.problems if "no department" not in p)
        load.documents.append(document)
    if not load.documents:
        detail = "; ".join(load.problems) or "no .txt, .md, .docx or .pdf files"
        raise CorpusNotFoundError(f"no readable document in {folder}: {detail}")
    return load
