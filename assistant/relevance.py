"""When is a hit good enough to answer from? Calibrated on the evaluation set.

Two signals of the best measure: its BM25 score (words of the question found
in it) and its dense cosine (meaning). Out-of-scope questions score low on
both; the thresholds are set by `policyqa eval --calibrate`-style runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.hybrid import MeasureHit


@dataclass(frozen=True)
class Relevance:
    min_dense: float = 0.84  # cosine at or above this is relevant on its own
    min_lexical: float = 6.0  # BM25 at or above this is relevant on its own
    combined_dense: float = 0.80  # or both moderately high
    combined_lexical: float = 3.0
    keep_ratio: float = 0.85  # other measures kept when their fused score is this close to the best

    def confident(self, hit: MeasureHit) -> bool:
        return (hit.dense >= self.min_dense or hit.lexical >= self.min_lexical
                or (hit.dense >= self.combined_dense and hit.lexical >= self.combined_lexical))

    def keep_with(self, hit: MeasureHit, best: MeasureHit) -> bool:
        return self.confident(hit) and hit.score >= self.keep_ratio * best.score
