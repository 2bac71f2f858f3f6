"""Fit the fusion of the two search sides on the tuning part of the question sets; report the test part.

    python -m eval.tune_fusion [--questions FILE ...] [--out report.md]

For every question of the bundled sets (``eval/questions/weihai-2026.jsonl`` over the seed corpus,
``multi-2026.jsonl`` over ``corpus/samples``) that has gold measures and is answered by retrieval
(no history; not a list, department, document-fact or document-list question), the question is
encoded once and its scope resolved as ``policyqa ask`` does. Then every variant of the grid below
ranks the measures, and hit@1 / hit@3 (document and measure right) are counted per split:

- ``method``: linear fusion of min-max scaled sides (weight of the lexical side × 0.3 … 1.5), or
  reciprocal rank fusion (k = 10, 60);
- ``expand``: lay phrases expanded to policy terms on the lexical side (index/data/expansion.tsv) or not;
- ``vectors``: which chunk vectors the dense side scores — ``both`` (each sentence and each whole
  measure embedded, today's index), ``sentences`` (sentences only), ``measures`` (whole measures only),
  or ``mean`` (sentences, with each measure's vector the renormalized mean of its sentence vectors
  instead of a second embedding). This is the "embed once" comparison: ``sentences`` and ``mean``
  embed each text once. Since that comparison (eval/reports/embed_once.md) the index embeds
  sentences only and stores a whole measure's vector as the mean of its sentences', so on a
  current index ``both`` and ``measures`` score those means: rebuild with the measure chunks
  embedded to compare again.

The variant with the best tune hit@1 (ties: hit@3, then nearest today's defaults) is printed with
its test figures beside today's defaults. Nothing here is fitted on the test part; the never-tune
files are not read. Prints a Markdown table; ``--out`` writes it too.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = (ROOT / "eval" / "questions" / "weihai-2026.jsonl", ROOT / "eval" / "questions" / "multi-2026.jsonl")
RETRIEVAL_TYPES = frozenset({"keyword", "paraphrase", "figure", "multi", "place", "traditional", "topic", "version",
                             "en", "ko", "foreign"})


@dataclass(frozen=True)
class Variant:
    method: str = "linear"
    lexical_weight: float = 0.7
    rrf_k: float = 10.0
    expand: bool = True
    vectors: str = "both"

    def label(self) -> str:
        fusion = f"linear λ={self.lexical_weight}" if self.method == "linear" else f"rrf k={self.rrf_k:g} λ={self.lexical_weight}"
        return f"{fusion}, expand={'on' if self.expand else 'off'}, vectors={self.vectors}"


GRID = [Variant(m, w, k, e, v)
        for m, w, k, e, v in itertools.product(("linear", "rrf"), (0.3, 0.5, 0.7, 0.9, 1.2, 1.5), (10.0, 60.0),
                                                (True, False), ("both", "sentences", "measures", "mean"))
        if not (m == "linear" and k != 10.0)]
TODAY = Variant(vectors="sentences")  # index.building.embedded_chunks: each text embedded once


@dataclass
class Prepared:
    split: str
    gold: frozenset[tuple[str, str]]
    lexical: dict[bool, np.ndarray]  # expand on/off → BM25 score per chunk, shape (n_chunks,), float32
    cosine: dict[str, np.ndarray]  # vectors → cosine per measure, shape (n_measures,), float32
    allowed: np.ndarray  # (n_measures,) bool


def measure_vectors(searcher, vectors: np.ndarray) -> dict[str, np.ndarray]:
    """Per variant, the chunk vectors scored and the measure each belongs to: (vectors (n, d) float32, owner (n,))."""
    owner = searcher.chunk_measure
    is_sentence = searcher.is_sentence
    mean = np.zeros((len(searcher.measure_keys), vectors.shape[1]), dtype=np.float64)
    np.add.at(mean, owner[is_sentence], vectors[is_sentence])
    has = np.zeros(len(searcher.measure_keys), dtype=bool)
    has[owner[is_sentence]] = True
    whole = np.flatnonzero(~is_sentence)
    mean[owner[whole][~has[owner[whole]]]] = vectors[whole][~has[owner[whole]]]  # no sentences: its own vector
    mean /= np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    return {"both": (vectors, owner), "sentences": (vectors[is_sentence], owner[is_sentence]),
            "measures": (vectors[whole], owner[whole]),
            "mean": (np.vstack([vectors[is_sentence], mean.astype(np.float32)]),
                     np.concatenate([owner[is_sentence], np.arange(len(mean))]))}


def prepare(assistant, questions, splits=("tune", "test")) -> tuple[list[Prepared], object]:
    from index.hybrid import FusionParams

    context = assistant.context()
    searcher = context.searcher
    vectors = np.load(searcher_vectors_path(assistant)).astype(np.float32)
    sets = measure_vectors(searcher, vectors)
    out: list[Prepared] = []
    for q in questions:
        if q.split not in splits or q.history or not q.gold_keys or not q.should_find or q.type not in RETRIEVAL_TYPES:
            continue
        asked = assistant.understand(q.question, None, 5, context)
        if asked.intent.kind != "search":
            continue
        lexical = {e: searcher.lexical_scores(asked.lexical, FusionParams(expand_lexical=e)) for e in (True, False)}
        vector = searcher.encode(asked.text)
        cosine = {}
        for name, (chunk_vectors, owner) in sets.items():
            best = np.full(len(searcher.measure_keys), -1.0, dtype=np.float32)
            np.maximum.at(best, owner, chunk_vectors @ vector)
            cosine[name] = best
        filters = context.filters(asked.scope)
        allowed = searcher._allowed(filters)
        out.append(Prepared(q.split, frozenset(tuple(g) for g in q.gold_keys), lexical, cosine, allowed))
    return out, searcher


def searcher_vectors_path(assistant) -> Path:
    """The live index version's chunk vectors (vectors.npy, (n_chunks, dim) float32, rows in chunk order)."""
    from index.building import VECTORS

    return assistant._state.index.path / VECTORS


def score(prepared: list[Prepared], searcher, variant: Variant, split: str) -> tuple[float, float, int]:
    from index.hybrid import FusionParams, HybridSearcher

    params = FusionParams(method=variant.method, lexical_weight=variant.lexical_weight, rrf_k=variant.rrf_k)
    hit1 = hit3 = n = 0
    for p in prepared:
        if p.split != split:
            continue
        best_lex = np.zeros(len(searcher.measure_keys), dtype=np.float32)
        np.maximum.at(best_lex, searcher.chunk_measure, p.lexical[variant.expand])
        fused = HybridSearcher._fuse(best_lex, p.cosine[variant.vectors], p.allowed, params, ("lexical", "dense"))
        ranking = [searcher.measure_keys[m] for m in HybridSearcher._top(fused, p.allowed, 3)]
        n += 1
        hit1 += bool(ranking) and ranking[0] in p.gold
        hit3 += any(r in p.gold for r in ranking)
    return (hit1 / n if n else 0.0), (hit3 / n if n else 0.0), n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.tune_fusion", description=__doc__.splitlines()[0])
    parser.add_argument("--questions", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings
    from eval.questions_file import load_questions

    per_file = []
    for path in args.questions:
        questions = load_questions(path)
        if questions.never_tune:
            print(f"{path}: never-tune, skipped", file=sys.stderr)
            continue
        corpus = questions.corpus
        assistant = PolicyAssistant(Settings(corpus=corpus))
        prepared, searcher = prepare(assistant, questions.questions)
        per_file.append((path.name, prepared, searcher))
        print(f"{path.name}: {sum(p.split == 'tune' for p in prepared)} tune, "
              f"{sum(p.split == 'test' for p in prepared)} test retrieval questions", file=sys.stderr)

    def totals(variant: Variant, split: str) -> tuple[float, float, list[tuple[float, float, int]]]:
        parts = [score(p, s, variant, split) for _, p, s in per_file]
        n = sum(x[2] for x in parts) or 1
        return (sum(x[0] * x[2] for x in parts) / n, sum(x[1] * x[2] for x in parts) / n, parts)

    def distance(v: Variant) -> float:
        return (v.method != TODAY.method) + abs(v.lexical_weight - TODAY.lexical_weight) + (v.expand != TODAY.expand) \
            + (v.vectors != TODAY.vectors) * 0.5

    results = {v: totals(v, "tune") for v in GRID}
    best = max(GRID, key=lambda v: (round(results[v][0], 6), round(results[v][1], 6), -distance(v)))
    lines = ["| variant | tune hit@1 | tune hit@3 | test hit@1 | test hit@3 | test per file (hit@1) |",
             "| --- | --- | --- | --- | --- | --- |"]
    best_per_vectors = [max((v for v in GRID if v.vectors == mode),
                            key=lambda v: (round(results[v][0], 6), round(results[v][1], 6), -distance(v)))
                        for mode in ("both", "sentences", "measures", "mean")]
    shown = [TODAY, best] + [Variant(vectors=v) for v in ("sentences", "measures", "mean")] + best_per_vectors
    for v in {x.label(): x for x in shown}.values():  # one row per variant
        tune1, tune3, _ = results.get(v) or totals(v, "tune")
        test1, test3, parts = totals(v, "test")
        mark = " (today)" if v == TODAY else " (best on tune)" if v == best else \
            " (best on tune with these vectors)" if v in best_per_vectors else ""
        per = ", ".join(f"{name} {x[0]:.3f} (n={x[2]})" for (name, _, _), x in zip(per_file, parts))
        lines.append(f"| {v.label()}{mark} | {tune1:.3f} | {tune3:.3f} | {test1:.3f} | {test3:.3f} | {per} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
