"""Fit the refusal model (assistant/relevance.py) on a question set.

    python -m eval.calibrate [--questions FILE] [--threshold 0.4]

For every question that goes to retrieval (not routed to a measure, a
department, a list or a document fact) it computes the five signals of the
best hit, fits a logistic regression (numpy, L2-regularised) of "out of
scope" on them, and prints the constants to paste into RefusalModel, with how
many questions each threshold would refuse rightly and wrongly, and the
leave-one-out error count.
"""

from __future__ import annotations

import argparse
import math
import os

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")


def features_of(assistant, questions) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from assistant.intents import route
    from assistant.relevance import FEATURES

    state = assistant._state
    searcher = state.index.searcher
    rows, labels, texts = [], [], []
    for q in questions:
        if q.history:
            continue
        intent = route(q.question, state.departments, words=searcher.tokenizer.words)
        if intent.kind not in ("search",):
            continue
        vector = searcher.encode(q.question)
        best = searcher.search(q.question, k=1, vector=vector)
        if not best:
            continue
        measure = state.measure(best[0].doc_id, best[0].measure_key)
        f = assistant.relevance.features(searcher, q.question, vector, best[0], measure.title + measure.text)
        rows.append([f[name] for name in FEATURES])
        labels.append(not q.should_find)
        texts.append(q.question)
    return np.array(rows, dtype=float), np.array(labels, dtype=bool), texts


def fit(z: np.ndarray, y: np.ndarray, l2: float = 0.1, iterations: int = 4000, rate: float = 0.1):
    w, b = np.zeros(z.shape[1]), 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        gradient = p - y
        w -= rate * (z.T @ gradient / len(y) + l2 * w)
        b -= rate * gradient.mean()
    return w, b


def main(argv: list[str] | None = None) -> int:
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings
    from eval.questions_file import load_questions

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions")
    parser.add_argument("--threshold", type=float, default=0.4)
    args = parser.parse_args(argv)

    assistant = PolicyAssistant(Settings())
    x, y, texts = features_of(assistant, load_questions(args.questions).questions)
    mean, scale = x.mean(0), x.std(0)
    z = (x - mean) / scale
    w, b = fit(z, y.astype(float))
    p = 1 / (1 + np.exp(-(z @ w + b)))
    print(f"{len(y)} questions reach retrieval: {int(y.sum())} out of scope, {int((~y).sum())} in scope")
    for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6):
        refused = p > threshold
        print(f"threshold {threshold:.2f}: refuses {int((refused & y).sum())}/{int(y.sum())} out-of-scope, "
              f"{int((refused & ~y).sum())}/{int((~y).sum())} in-scope wrongly")
    loo = 0
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        wi, bi = fit(z[keep], y[keep].astype(float), iterations=1500)
        loo += (1 / (1 + math.exp(-(z[i] @ wi + bi))) > args.threshold) != y[i]
    print(f"leave-one-out errors at {args.threshold}: {loo}/{len(y)}")
    print("\nRefusalModel(")
    print(f"    weights={tuple(round(float(v), 4) for v in w)},")
    print(f"    bias={round(float(b), 4)},")
    print(f"    mean={tuple(round(float(v), 4) for v in mean)},")
    print(f"    scale={tuple(round(float(v), 5) for v in scale)},")
    print(f"    threshold={args.threshold},\n)")
    wrong = [(round(float(pi), 2), t, bool(yi)) for pi, t, yi in zip(p, texts, y) if (pi > args.threshold) != yi]
    for prob, text, oos in sorted(wrong, reverse=True):
        print(f"  {'out-of-scope answered' if oos else 'in-scope refused'}: p={prob} {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
