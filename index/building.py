"""Build, open and refresh the persisted hybrid index for a loaded corpus."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from corpus.loading import CorpusLoad
from corpus.records import RECORD_FORMAT
from index.chunking import Chunk, chunk_documents
from index.dense import DenseIndex, DenseIndexError, choose_index_kind
from index.hybrid import FusionParams, HybridSearcher
from index.lexical import LexicalIndex, LexicalIndexError
from index.store import (
    REBUILD_HINT, IndexMismatchError, IndexMissingError, IndexStoreError, Manifest,
    live_version_dir, new_version, new_version_name, read_manifest, report_leftovers,
)
from index.tokenization import Tokenizer, build_user_terms, quoted_terms

CHUNKS = "chunks.jsonl"
VECTORS = "vectors.npy"
DENSE = "dense.faiss"
LEXICAL = "lexical"
TERMS = "user_terms.json"

Progress = Callable[[int], None]  # called with the number of texts just embedded
ROOT = Path(__file__).resolve().parent.parent
# Data files whose change alters what an index holds (records, tokens): an index built with others is rebuilt.
BUILD_KNOWLEDGE = ("index/data/stopwords.txt", "corpus/data/")


def knowledge_files() -> dict[str, str]:
    """Every data file of the word lists and models (corpus/, index/, assistant/data) → sha256 prefix.

    Recorded in the manifest, so an index and the query side that reads it cannot drift apart unseen.
    """
    import hashlib

    out = {}
    for folder in ("corpus/data", "index/data", "assistant/data"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".json", ".txt", ".tsv"):
                out[path.relative_to(ROOT).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return out


# Called once, when embedding starts, with the number of texts to embed and a label;
# returns the Progress callback (e.g. a tqdm bar's update). Never called when nothing is embedded.
ProgressFactory = Callable[[int, str], Progress]
Say = Callable[[str], None]


@dataclass
class LoadedIndex:
    version: str
    path: Path
    manifest: Manifest
    searcher: HybridSearcher
    embedded_chars: int = 0  # characters of the texts this build embedded (0 when it only opened a version)


def chunk_count(load: CorpusLoad) -> int:
    """How many chunks the corpus makes (a build embeds at most these)."""
    return len(chunk_documents(load.documents))


def estimate_bytes(chunk_lines: int, chunk_bytes: int, dim: int, faiss_kind: str) -> int:
    """About how many bytes a version takes on disk (a slight overestimate).

    Vectors twice (vectors.npy and the FAISS file, plus HNSW links), chunks.jsonl,
    the BM25 index (about twice the chunk text) and 16 KiB of small files: 1.05x the
    seed's actual 511 KiB, 1.5x a six-chunk corpus' 26 KiB.
    """
    vectors = chunk_lines * dim * 4
    links = chunk_lines * 32 * 2 * 4 if faiss_kind != "flat" else 0
    return 2 * vectors + links + 3 * chunk_bytes + 16 * 1024


def user_terms_for(load: CorpusLoad) -> list[str]:
    measures = [m for d in load.documents for m in d.measures]
    return build_user_terms(
        titles=[m.title for m in measures] + [d.title for d in load.documents],
        departments=sorted({name for m in measures for name in m.departments}),
        quoted_terms=[t for d in load.documents for t in quoted_terms(d.text)],
    )


def _previous_vectors(root: Path, embedder_name: str) -> dict[str, np.ndarray]:
    """Vectors of the live version by chunk text: unchanged chunks are not embedded again."""
    try:
        live = live_version_dir(root)
        if live is None:
            return {}
        manifest = read_manifest(live)
        if manifest.embedder != embedder_name:
            return {}
        vectors = np.load(live / VECTORS)
        texts = [json.loads(line)["text"] for line in (live / CHUNKS).read_text(encoding="utf-8").splitlines()]
        if len(texts) != len(vectors):
            return {}
        return dict(zip(texts, vectors))
    except (IndexStoreError, OSError, ValueError, KeyError):
        return {}


def embedded_chunks(chunks: list[Chunk]) -> list[bool]:
    """Which chunks are embedded: every sentence, and a whole measure only when it has no sentence chunk.

    Embedding each text once: a whole measure's own vector added nothing to the ranking measured by
    ``python -m eval.tune_fusion`` (test part: hit@1 0.922 both ways… see eval/reports/embed_once.md),
    and it doubled the encoder's work. A measure's dense score is its best sentence's cosine.
    """
    with_sentences = {(c.doc_id, c.measure_key) for c in chunks if c.kind == "sentence"}
    return [c.kind == "sentence" or (c.doc_id, c.measure_key) not in with_sentences for c in chunks]


def derived_vectors(chunks: list[Chunk], embedded: list[bool], own: list, dim: int) -> np.ndarray:
    """Every chunk's vector, (n_chunks, dim) float32, unit-norm rows: its own embedding, or for a whole
    measure that was not embedded the renormalized mean of its sentences' (stored so that every chunk
    has a vector for the backends; the dense side does not score it, see HybridSearcher.dense_scored)."""
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    sums: dict[tuple[str, str], np.ndarray] = {}
    for i, (chunk, vector) in enumerate(zip(chunks, own)):
        if vector is not None:
            vectors[i] = vector
            if chunk.kind == "sentence":
                key = (chunk.doc_id, chunk.measure_key)
                sums[key] = sums.get(key, 0) + np.asarray(vector, dtype=np.float64)
    for i, (chunk, is_embedded) in enumerate(zip(chunks, embedded)):
        if not is_embedded:
            total = sums[(chunk.doc_id, chunk.measure_key)]
            vectors[i] = (total / max(float(np.linalg.norm(total)), 1e-12)).astype(np.float32)
    return vectors


class _Stopped(Exception):
    """Raised in the embedding thread's progress callback: the build failed or was interrupted meanwhile."""


class Embedding:
    """``embedder.encode_passages(texts)``, on the calling thread or (``background=True``) on a thread of
    its own, so the build tokenizes and indexes the text meanwhile (jieba's dictionary, the BM25 library's
    imports and the tokenizing hold the GIL for seconds, the encoder none: it runs beside them).

    :meth:`result` waits for the vectors; :meth:`stop` ends the encoding at its next batch (a failed or
    interrupted build does not leave it running).
    """

    def __init__(self, embedder, texts: list[str], progress: Progress | None, background: bool):
        self._stop = threading.Event()
        self._vectors: np.ndarray | None = None
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if not texts:
            self._vectors = np.zeros((0, embedder.dim), np.float32)
        elif not background:
            self._vectors = embedder.encode_passages(texts, progress=progress)
        else:
            def report(n: int) -> None:
                if self._stop.is_set():
                    raise _Stopped()
                if progress is not None:
                    progress(n)

            def run() -> None:
                try:
                    self._vectors = embedder.encode_passages(texts, progress=report)
                except BaseException as exc:  # noqa: BLE001 - handed to the building thread by result()
                    self._error = exc

            self._thread = threading.Thread(target=run, name="policyqa-embedding", daemon=True)
            self._thread.start()

    def result(self) -> np.ndarray:
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._vectors is not None
        return self._vectors

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def build_index(load: CorpusLoad, root: Path, embedder, progress: ProgressFactory | None = None,
                reuse_vectors: bool = True, say: Say = lambda message: None, parallel: bool = False) -> LoadedIndex:
    """Chunk, embed and index the corpus; write a new version under ``root`` and make it live.

    Vectors of chunks whose text is in the live version are reused; ``progress``
    is asked for a callback only when some chunks must be embedded, with their
    count. Leftovers of interrupted builds are removed first (reported through
    ``say``). ``parallel``: tokenize and index while the embedder encodes (``policyqa
    index``, with an embedder on every core); False keeps a build to one thing at a
    time (a server's rebuild, kept to one core). Raises IndexStoreError when the
    corpus has no text, DiskFullError when the disk cannot hold the new version (old
    versions are pruned first, and the live one is never touched), IndexStoreError
    for other write failures.
    """
    started = time.perf_counter()
    chunks = chunk_documents(load.documents)
    if not chunks:
        raise IndexStoreError("the corpus has no text to index")
    lines = [json.dumps(c.to_json(), ensure_ascii=False) + "\n" for c in chunks]
    kind = choose_index_kind(len(chunks))
    needed = estimate_bytes(len(chunks), sum(len(line.encode()) for line in lines), embedder.dim, kind)
    with new_version(root, needed, say) as build:
        folder = build.folder
        cached = _previous_vectors(root, embedder.name) if reuse_vectors else {}
        embedded = embedded_chunks(chunks)
        missing = list(dict.fromkeys(c.text for c, e in zip(chunks, embedded) if e and c.text not in cached))
        callback = progress(len(missing), "embedding") if progress and missing else None
        embedding = Embedding(embedder, missing, callback, background=parallel)
        try:
            (folder / CHUNKS).write_text("".join(lines), encoding="utf-8")
            terms = user_terms_for(load)
            tokenizer = Tokenizer(user_terms=terms)
            lexical = LexicalIndex.build([tokenizer(c.text) for c in chunks])
            fresh = embedding.result()
        finally:
            embedding.stop()
        fresh_by_text = dict(zip(missing, fresh))
        vectors = derived_vectors(chunks, embedded, [cached.get(c.text, fresh_by_text.get(c.text)) if e else None
                                                     for c, e in zip(chunks, embedded)], embedder.dim)
        np.save(folder / VECTORS, vectors)
        dense = DenseIndex.build(vectors, kind=kind)
        try:
            dense.save(folder / DENSE)
            lexical.save(folder / LEXICAL)
        except (DenseIndexError, LexicalIndexError) as exc:  # a write that failed: one line, or DiskFullError
            raise IndexStoreError(str(exc)) from exc
        (folder / TERMS).write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        manifest = Manifest(
            version=new_version_name(load.corpus_hash),
            created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            corpus_hash=load.corpus_hash,
            files=dict(load.file_hashes),
            embedder=embedder.name,
            dim=int(vectors.shape[1]),
            faiss_kind=dense.kind,
            counts={"documents": len(load.documents), "measures": sum(len(d.measures) for d in load.documents),
                    "chunks": len(chunks), "vectors": int(len(vectors)), "embedded_chunks": int(sum(embedded))},
            build_seconds=round(time.perf_counter() - started, 3),
            embedded=len(missing),
            record_format=RECORD_FORMAT,
            knowledge=knowledge_files(),
            tokenizer={"user_terms": len(terms), "char_bigrams": tokenizer.char_bigrams,
                       "expand_user_terms": tokenizer.expand_user_terms, "stopwords": len(tokenizer.stopwords)},
        )
        path = build.commit(manifest)
    manifest = read_manifest(path, verify=False)
    return LoadedIndex(manifest.version, path, manifest, HybridSearcher(chunks, tokenizer, lexical, dense, embedder),
                       embedded_chars=sum(len(text) for text in missing))


def open_index(root: Path, load: CorpusLoad, embedder, params: FusionParams | None = None) -> LoadedIndex:
    """Load the live version, verified against the corpus and the embedder.

    Raises IndexMissingError (never built), IndexMismatchError (built from another
    corpus or embedder: rebuild) or IndexStoreError (corrupt: refuse).
    """
    live = live_version_dir(root)
    if live is None:
        raise IndexMissingError(f"no index in {root} yet; build it with `policyqa index`")
    return open_version(live, load, embedder, params)


def open_version(live: Path, load: CorpusLoad, embedder, params: FusionParams | None = None) -> LoadedIndex:
    """Load one version folder (``root/versions/<version>``), verified as :func:`open_index` does."""
    manifest = read_manifest(live)
    if manifest.embedder != embedder.name or manifest.dim != embedder.dim:
        raise IndexMismatchError(
            f"the index in {live} was built with {manifest.embedder} ({manifest.dim} dims), "
            f"not {embedder.name} ({embedder.dim} dims); {REBUILD_HINT}")
    changed = [name for name, digest in knowledge_files().items()
               if name.startswith(BUILD_KNOWLEDGE) and manifest.knowledge.get(name) != digest]
    if changed and manifest.knowledge:
        raise IndexMismatchError(f"the word lists the index was built with changed ({', '.join(changed)}); "
                                 f"{REBUILD_HINT}")
    if manifest.record_format != RECORD_FORMAT:
        raise IndexMismatchError(
            f"the index in {live} was built from records of format {manifest.record_format}, and this version "
            f"reads documents as format {RECORD_FORMAT} (parts, groups, labels, roles, typed figures); "
            f"{REBUILD_HINT}")
    if manifest.corpus_hash != load.corpus_hash:
        changed = sorted(set(manifest.files.items()) ^ set(load.file_hashes.items()))
        names = sorted({name for name, _ in changed})
        raise IndexMismatchError(f"the corpus changed since the index was built ({', '.join(names) or 'files'}); "
                                 f"{REBUILD_HINT}")
    try:
        chunks = [Chunk(**json.loads(line)) for line in (live / CHUNKS).read_text(encoding="utf-8").splitlines()]
        terms = json.loads((live / TERMS).read_text(encoding="utf-8"))
        lexical = LexicalIndex.load(live / LEXICAL)
        dense = DenseIndex.load(live / DENSE, expected_dim=manifest.dim, expected_count=manifest.counts["vectors"])
    except (DenseIndexError, LexicalIndexError) as exc:
        raise IndexStoreError(str(exc)) from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise IndexStoreError(f"the index in {live} is corrupt ({exc}); {REBUILD_HINT}") from exc
    if len(chunks) != manifest.counts["chunks"] or lexical.count != len(chunks):
        raise IndexStoreError(f"the index in {live} is inconsistent (chunk counts differ); {REBUILD_HINT}")
    if chunks != chunk_documents(load.documents):
        # same files, read differently: this version of the parser finds other measures, units or sentences
        # than the one that built the index, whose chunks would quote the wrong spans
        raise IndexMismatchError(f"the documents are read differently than when the index in {live} was built "
                                 f"(a newer version of the reader); {REBUILD_HINT}")
    searcher = HybridSearcher(chunks, Tokenizer(user_terms=terms), lexical, dense, embedder, params)
    return LoadedIndex(manifest.version, live, manifest, searcher)


def ensure_index(root: Path, load: CorpusLoad, embedder, progress: ProgressFactory | None = None,
                 say: Say = lambda message: None) -> LoadedIndex:
    """Open the live index, building it when missing or stale (saying why).

    Leftovers of interrupted builds are removed first, and reported. A corrupt
    index is refused, not silently replaced: the error says how to rebuild.
    """
    report_leftovers(root, say)
    try:
        return open_index(root, load, embedder)
    except IndexMissingError:
        say(f"building the index for {len(load.documents)} document(s) (first use) …")
    except IndexMismatchError as exc:
        say(f"{str(exc).split(';')[0]}: rebuilding the index …")
    return build_index(load, root, embedder, progress=progress, say=say)
