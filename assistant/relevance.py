"""Is the best hit good enough to answer from, or should the assistant say it does not know?

Six signals of the best measure in the question's scope, combined by a logistic model:

- ``dense``: cosine of its best chunk to the question (meaning);
- ``lexical_raw``: best BM25 score of the question's own words (no expansion), log1p;
- ``coverage``: share of the question's content words found in that measure's text;
- ``lexical``: its BM25 score with the query expansion, log1p;
- ``scope_gap``: how much closer the question is to a kind of citizen service that the loaded
  documents do *not* cover (户籍, 社保, 天气 …; ``assistant/data/out_of_scope_topics.txt``) than
  to its best chunk. A topic the corpus covers is dropped from the list for that corpus (with
  国发〔2018〕41号 loaded, 个人所得税 is covered, so 个税 questions are not pushed towards refusal);
- ``corpus_coverage``: share of the question's content words that occur anywhere in the documents
  of its scope (上海有什么OPC补贴 with only national documents in scope: OPC occurs in none).

The weights are data, one file per embedder (``assistant/data/refusal/<embedder>.json``), fitted
by ``python -m eval.calibrate`` on the *tune* part of the question sets; an embedder without its
own file falls back to the lexical-only model (``lexical.json``), and says so.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.intents import GENERIC_ASKING
from index.expansion import QUERY_FILLER, lexicon
from index.hybrid import FusionParams, HybridSearcher, MeasureHit
from index.tokenization import normalize_text

DATA = Path(__file__).parent / "data"
MODELS = DATA / "refusal"
FEATURES = ("dense", "lexical_raw", "coverage", "lexical", "scope_gap", "corpus_coverage")
LEXICAL_FEATURES = ("lexical_raw", "coverage", "lexical", "corpus_coverage")


def out_of_scope_topics() -> tuple[str, ...]:
    lines = (DATA / "out_of_scope_topics.txt").read_text(encoding="utf-8").splitlines()
    return tuple(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def model_file(embedder_name: str, crosslingual: bool = False) -> Path:
    """assistant/data/refusal/<embedder>.json, or <embedder>.crosslingual.json for English and Korean questions."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", embedder_name).strip("_") or "default"
    return MODELS / (f"{slug}.crosslingual.json" if crosslingual else f"{slug}.json")


@dataclass(frozen=True)
class RefusalModel:
    """P(out of scope) = sigmoid(w · (x - mean) / scale + bias) over ``features``; refuse above ``threshold``.

    ``covered_at``: a topic of out_of_scope_topics.txt whose best chunk has at least this cosine is
    covered by the corpus and dropped from ``scope_gap``.
    """

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    threshold: float
    covered_at: float = 0.9
    name: str = ""
    source: str = ""  # the file it was read from
    # refuse also when the question is closer to a listed out-of-scope kind than to any of the corpus's text
    # by more than this margin of cosine: the largest scope_gap of an in-scope tune question that the rule
    # applies to (gap_rule_applies; None: unused)
    scope_gap_above: float | None = None

    @classmethod
    def load(cls, path: Path) -> "RefusalModel":
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(tuple(data["features"]), tuple(data["weights"]), float(data["bias"]), tuple(data["mean"]),
                   tuple(data["scale"]), float(data["threshold"]), float(data.get("covered_at", 0.9)),
                   str(data.get("embedder", path.stem)), str(path),
                   None if data.get("scope_gap_above") is None else float(data["scope_gap_above"]))

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias
        for name, w, m, s in zip(self.features, self.weights, self.mean, self.scale):
            z += w * (features[name] - m) / (s or 1.0)
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))


def model_for(embedder_name: str) -> tuple[RefusalModel, str | None]:
    """The embedder's own model, or the lexical-only one with a note saying so."""
    own = model_file(embedder_name)
    if own.is_file():
        return RefusalModel.load(own), None
    fallback = MODELS / "lexical.json"
    return RefusalModel.load(fallback), (f"no refusal model fitted for embedder {embedder_name!r} "
                                         f"({own.name} missing); using the lexical-only model, which ignores "
                                         "meaning: fit one with `python -m eval.calibrate`")


class Relevance:
    def __init__(self, model: RefusalModel | None = None, keep_ratio: float = 0.85):
        self.model = model
        self.keep_ratio = keep_ratio
        self.note: str | None = None  # why a fallback model is used, if one is
        self._crosslingual: dict[str, RefusalModel] = {}
        self._anchors: dict[tuple[str, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def model_for(self, embedder, lang: str = "zh") -> RefusalModel:
        if self.model is None or (self.model.name != embedder.name and self.model.name != "lexical"):
            with self._lock:
                self.model, self.note = model_for(embedder.name)
        if lang == "zh":
            return self.model
        if embedder.name not in self._crosslingual:
            path = model_file(embedder.name, crosslingual=True)
            self._crosslingual[embedder.name] = RefusalModel.load(path) if path.is_file() else self.model
        return self._crosslingual[embedder.name]

    def anchors(self, searcher: HybridSearcher, doc_ids=None) -> np.ndarray:
        """Vectors of the out-of-scope topics that the documents in scope (``doc_ids``; None: all) do not
        cover, (n, dim) float32 (n may be 0). A topic covered only by documents outside the scope stays:
        with 武汉's OPC 购房补贴 loaded, 在威海买房有补贴吗？ is still near 购房补贴, which 威海's documents lack."""
        key = (searcher.embedder.name, id(searcher))
        with self._lock:
            if key not in self._anchors:
                vectors = searcher.embedder.encode_queries(list(out_of_scope_topics()))
                docs = sorted({c.doc_id for c in searcher.chunks})
                column = {d: i for i, d in enumerate(docs)}
                owner = np.array([column[c.doc_id] for c in searcher.chunks], dtype=np.int64)
                per_doc = np.full((len(vectors), len(docs)), -1.0, dtype=np.float32)  # best cosine per document
                for i, v in enumerate(vectors):
                    np.maximum.at(per_doc[i], owner, searcher.dense_scores(v))
                self._anchors = {k: v for k, v in self._anchors.items() if k[0] != key[0]}
                self._anchors[key] = (vectors, per_doc, column)
            vectors, per_doc, column = self._anchors[key]
        covered_at = self.model.covered_at if self.model is not None else 0.9
        columns = list(column.values()) if doc_ids is None else [column[d] for d in doc_ids if d in column]
        best = per_doc[:, columns].max(axis=1) if columns and len(vectors) else np.full(len(vectors), -1.0)
        keep = best < covered_at
        return vectors[keep] if keep.any() else np.zeros((0, vectors.shape[1]), np.float32)

    def features(self, searcher: HybridSearcher, question: str, vector: np.ndarray, best: MeasureHit,
                 measure_text: str, scope_text: str | None = None, doc_ids=None) -> dict[str, float]:
        """The six signals (and ``topic_held``: whether the measure holds every topic word of the question, which
        gates the scope-gap rule); ``scope_text`` is the normalized text of the documents in scope and ``doc_ids``
        their ids (None: all)."""
        raw = searcher.lexical_scores(question, FusionParams(expand_lexical=False, drop_filler=True))
        words = [t for t in searcher.tokenizer(question) if len(t) >= 2 and t not in QUERY_FILLER]
        coverage = sum(w in measure_text for w in words) / len(words) if words else 0.0
        anchors = self.anchors(searcher, doc_ids)
        dense = best.dense if best.dense > -1 else float(searcher.dense_scores(vector).max())
        scope = float((anchors @ vector).max()) if len(anchors) else dense - 0.1
        if scope_text is None:
            corpus_coverage = 1.0
        else:
            corpus_coverage = sum(w in scope_text for w in words) / len(words) if words else 0.0
        topic = [normalize_text(w) for w in searcher.tokenizer.words(question)
                 if len(w) >= 2 and w not in QUERY_FILLER and w not in GENERIC_ASKING
                 and w not in searcher.tokenizer.stopwords and re.search(r"\w", w)
                 and not all(c in GENERIC_ASKING for c in w)]
        # a topic word is held as written or as the policy terms of a lay phrase it is part of (缺地 → 用地); the
        # second only for a Chinese question (Relevance.refuse): an English or Korean one is searched as glossary
        # terms (위해 … 한국 국제학교 → 韩国), whose lay phrases are the glossary's, not the asker's words
        lay = [phrase for phrase, terms in _lay_phrases(question) if any(t in measure_text for t in terms)]
        phrases_held = lay_phrases_held(question, measure_text)
        literal = bool(topic) and all(w in measure_text for w in topic) and phrases_held
        held = bool(topic) and all(w in measure_text or _held_by_phrases(w, lay) for w in topic) and phrases_held
        return {"topic_held": float(held), "topic_held_as_written": float(literal),
                "dense": dense, "lexical_raw": math.log1p(float(raw.max()) if len(raw) else 0.0),
                "coverage": coverage, "lexical": math.log1p(max(best.lexical, 0.0)), "scope_gap": scope - dense,
                "corpus_coverage": corpus_coverage}

    def refuse(self, features: dict[str, float], embedder=None, lang: str = "zh") -> bool:
        """Refuse when the question is closer to a listed out-of-scope kind than any in-scope tune question was,
        or when the model says so; never when the best measure holds every topic word of the question
        (``topic_held``): of the 76 out-of-scope tune questions none did, of 371 in-scope ones 62 did
        (2026-12-01), and the model refused some of those (低空经济由哪些部门负责？ at p 0.88). A word is held
        also when it is part of a lay phrase whose policy terms the measure holds (效益差 of 第3条's 承压行业):
        of the 11 tuning files' out-of-scope questions none became held (lay7 +1 answered). An English or Korean
        question is held only by its (glossary) words as written (``topic_held_as_written``)."""
        if not gap_rule_applies(features if lang == "zh" else
                                {**features, "topic_held": features.get("topic_held_as_written", 0.0)}):
            return False
        model = self.model_for(embedder, lang) if embedder is not None else self.model
        if model.scope_gap_above is not None and features.get("scope_gap", -1.0) > model.scope_gap_above:
            return True
        return model.probability(features) > model.threshold

    def keep_with(self, hit: MeasureHit, best: MeasureHit) -> bool:
        """Other measures are shown beside the best one when their fused score is close to it."""
        return hit.score >= self.keep_ratio * best.score


def lay_phrases_held(question: str, measure_text: str) -> bool:
    """Whether each lay phrase of ``question`` (two characters or more, index/data/expansion.tsv) is in the
    normalized ``measure_text`` as written or as one of the policy terms it stands for. The tokenizer may cut a
    lay word into characters (个税 → 个 税) that no topic word then stands for: 个税怎么申报？ was held by 第10条
    (申报) alone."""
    # an asking word that is also a lay phrase (补贴 → 惠企政策 专项资金) asks, it names no topic to hold
    return all(phrase in measure_text or any(t in measure_text for t in terms)
               for phrase, terms in _lay_phrases(question) if phrase not in GENERIC_ASKING)


def _held_by_phrases(word: str, phrases: list[str]) -> bool:
    """Whether ``word`` is part of one held lay phrase (效益 of 效益差), or is made of held lay phrases end to end
    (合同纠纷 of the phrases 合同 and 纠纷, both standing for 法律服务): the tokenizer may keep two phrases as one
    word."""
    if not word:
        return False
    if any(word in p for p in phrases):
        return True
    covered = [False] * len(word)
    for phrase in phrases:
        start = word.find(phrase)
        while start >= 0:
            covered[start:start + len(phrase)] = [True] * len(phrase)
            start = word.find(phrase, start + 1)
    return all(covered)


@lru_cache(maxsize=1024)
def _lay_phrases(question: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(lay phrase, its policy terms), normalized, for each phrase of two characters or more in ``question``."""
    return tuple((normalize_text(m.group()), tuple(normalize_text(t) for t in terms.split()))
                 for pattern, terms in lexicon() for m in pattern.finditer(question) if len(m.group()) >= 2)


def gap_rule_applies(features: dict[str, float]) -> bool:
    """The scope-gap rule refuses only a question with a topic word (not filler, not an asking word of
    assistant/data/words/asking.txt) that its best measure lacks: when the measure holds every one, the words
    themselves say it is in scope, however near a listed kind the small embedder puts it (低空经济由哪些部门
    负责？ sits at cosine 0.88 to 低保与社会救助, 0.87 to its own measure)."""
    return not features.get("topic_held", 0.0)


def scope_text(catalog, doc_ids) -> str:
    """The normalized text of some documents (all when ``doc_ids`` is None), cached on the catalog."""
    cache = catalog.__dict__.setdefault("_scope_text", {})
    key = None if doc_ids is None else tuple(sorted(doc_ids))
    if key not in cache:
        documents = catalog.documents if doc_ids is None else [catalog.document(d) for d in key]
        cache[key] = normalize_text("\n".join(d.text for d in documents if d is not None))
    return cache[key]
