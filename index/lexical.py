"""BM25 over pre-tokenized documents, scored by bm25s.

Documents are identified by their position in the list given to
:meth:`LexicalIndex.build` (0 … count-1); the caller keeps the mapping from
position to chunk. Tokenize documents and queries with the same tokenizer
(:class:`index.tokenization.Tokenizer`).

Scoring is bm25s' default variant, "lucene":
``idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))`` and
``score(d, q) = Σ_{t in q} idf(t) · tf / (tf + k1 · (1 - b + b · |d| / avgdl))``
(a query token given twice counts twice). Every score is ≥ 0.

On disk the index is a folder: bm25s' own files (score matrix, vocabulary,
parameters) plus ``lexical.json``, written last, which says what the folder
holds; a folder without it is an interrupted save.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["LexicalIndex", "LexicalIndexError"]

FORMAT_VERSION = 1
META_FILE = "lexical.json"
_BM25S_FILES = (
    "params.index.json",
    "vocab.index.json",
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
)
_REBUILD = "rebuild with `policyqa index`"
_METHOD = "lucene"


class LexicalIndexError(Exception):
    """The BM25 index on disk is missing, incomplete or corrupt."""


class LexicalIndex:
    """A BM25 index: ``search`` for the top k documents, ``scores`` for all of them."""

    def __init__(self, retriever, vocab: dict[str, int], count: int, k1: float, b: float):
        # use build() or load(); ``retriever`` is a bm25s.BM25, or None when
        # no document has a single token (then every score is 0)
        self._retriever = retriever
        self._vocab = vocab
        self.count = count
        self.k1 = k1
        self.b = b

    def __repr__(self) -> str:
        return f"LexicalIndex(count={self.count}, vocabulary={len(self._vocab)}, k1={self.k1}, b={self.b})"

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocab)

    # building ---------------------------------------------------------------

    @classmethod
    def build(cls, corpus_tokens: list[list[str]], k1: float = 1.2, b: float = 0.75) -> "LexicalIndex":
        """Index one token list per document (documents may have no tokens)."""
        import bm25s

        corpus_tokens = list(corpus_tokens)
        vocab: dict[str, int] = {}
        corpus_ids: list[list[int]] = []
        for position, tokens in enumerate(corpus_tokens):
            if isinstance(tokens, str) or not all(isinstance(token, str) for token in tokens):
                raise TypeError(
                    f"document {position} is not a list of string tokens; pass one list per "
                    "document (tokenize with index.tokenization.Tokenizer first)"
                )
            corpus_ids.append([vocab.setdefault(token, len(vocab)) for token in tokens])

        if not vocab:
            return cls(None, {}, len(corpus_tokens), k1, b)

        retriever = bm25s.BM25(k1=k1, b=b, method=_METHOD, backend="numpy")
        # the (token ids, vocabulary) form: our vocabulary, no "" token added
        retriever.index((corpus_ids, vocab), create_empty_token=False, show_progress=False)
        return cls(retriever, vocab, len(corpus_tokens), k1, b)

    # querying ---------------------------------------------------------------

    def _query_ids(self, query_tokens: list[str]) -> list[int]:
        if isinstance(query_tokens, str):
            raise TypeError("query_tokens is a string; pass the list of tokens the tokenizer returns")
        return [self._vocab[token] for token in query_tokens if token in self._vocab]

    def scores(self, query_tokens: list[str]) -> np.ndarray:
        """The BM25 score of every document (float32, length ``count``); 0 where nothing matches."""
        ids = self._query_ids(query_tokens)
        if not ids or self._retriever is None:
            return np.zeros(self.count, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, query_tokens: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ids and scores of the best ``k`` documents, best first.

        Only documents that share a token with the query are returned, so
        fewer than ``k`` may come back (all matching documents when ``k`` is
        larger than the corpus), and an empty query, or one with no token in
        the vocabulary, gives two empty arrays. Equal scores keep id order.
        """
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        if k <= 0:
            return empty
        all_scores = self.scores(query_tokens)
        matching = np.flatnonzero(all_scores > 0)
        if matching.size == 0:
            return empty
        order = np.argsort(-all_scores[matching], kind="stable")[:k]
        ids = matching[order].astype(np.int64)
        return ids, all_scores[ids]

    # persistence ------------------------------------------------------------

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (created if needed); ``lexical.json`` is written last."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta_path = folder / META_FILE
        meta_path.unlink(missing_ok=True)  # the folder is incomplete until the end
        if self._retriever is not None:
            self._retriever.save(str(folder), show_progress=False)
        meta = {
            "format": FORMAT_VERSION,
            "scorer": "bm25s",
            "method": _METHOD,
            "count": self.count,
            "vocabulary": len(self._vocab),
            "k1": self.k1,
            "b": self.b,
            "empty": self._retriever is None,
        }
        meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        """Read an index written by :meth:`save`; raise LexicalIndexError if it is missing or damaged."""
        folder = Path(folder)
        if not folder.is_dir():
            raise LexicalIndexError(f"no lexical index at {folder}: {_REBUILD}")
        meta = _read_meta(folder)
        count, k1, b = meta["count"], meta["k1"], meta["b"]
        if meta["empty"]:
            return cls(None, {}, count, k1, b)

        missing = [name for name in _BM25S_FILES if not (folder / name).is_file()]
        if missing:
            raise LexicalIndexError(
                f"lexical index at {folder} is incomplete (missing {', '.join(missing)}): {_REBUILD}"
            )
        import bm25s

        try:
            retriever = bm25s.BM25.load(str(folder), show_progress=False)
        except (OSError, ValueError, TypeError, KeyError, EOFError) as error:
            raise LexicalIndexError(
                f"lexical index at {folder} could not be read ({type(error).__name__}: {error}): {_REBUILD}"
            ) from error
        vocab = retriever.vocab_dict
        _check_consistency(folder, retriever, vocab, meta)
        return cls(retriever, vocab, count, k1, b)


def _read_meta(folder: Path) -> dict:
    path = folder / META_FILE
    if not path.is_file():
        raise LexicalIndexError(f"lexical index at {folder} is incomplete (no {META_FILE}): {_REBUILD}")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LexicalIndexError(f"{path} is not readable JSON ({error}): {_REBUILD}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise LexicalIndexError(
            f"{path} has format {found!r}, this version reads format {FORMAT_VERSION}: {_REBUILD}"
        )
    expected = {"count": int, "vocabulary": int, "k1": (int, float), "b": (int, float), "empty": bool}
    for key, kind in expected.items():
        if not isinstance(meta.get(key), kind):
            raise LexicalIndexError(f"{path} lacks a valid {key!r}: {_REBUILD}")
    if meta["count"] < 0:
        raise LexicalIndexError(f"{path} has a negative document count: {_REBUILD}")
    return meta


def _check_consistency(folder: Path, retriever, vocab, meta: dict) -> None:
    """The arrays, the vocabulary and lexical.json must describe the same index."""
    problem = None
    scores = retriever.scores
    data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
    if not isinstance(vocab, dict) or not all(
        isinstance(token, str) and isinstance(i, int) for token, i in vocab.items()
    ):
        problem = "the vocabulary is not a token → id mapping"
    elif len(vocab) != meta["vocabulary"] or sorted(vocab.values()) != list(range(len(vocab))):
        problem = f"the vocabulary has {len(vocab)} entries, expected ids 0..{meta['vocabulary'] - 1}"
    elif scores.get("num_docs") != meta["count"]:
        problem = f"the score matrix covers {scores.get('num_docs')} documents, expected {meta['count']}"
    elif indptr.ndim != 1 or len(indptr) != len(vocab) + 1:
        problem = "the score matrix does not match the vocabulary"
    elif data.shape != indices.shape or int(indptr[-1]) != len(data) or np.any(np.diff(indptr) < 0):
        problem = "the score matrix arrays do not fit together"
    elif len(indices) and (indices.min() < 0 or indices.max() >= meta["count"]):
        problem = "the score matrix points at documents that do not exist"
    elif not np.all(np.isfinite(data)) or (len(data) and data.min() < 0):
        problem = "the score matrix holds invalid scores"
    elif retriever.method != _METHOD:
        problem = f"it was scored with method {retriever.method!r}, expected {_METHOD!r}"
    if problem is not None:
        raise LexicalIndexError(f"lexical index at {folder} is corrupt ({problem}): {_REBUILD}")
