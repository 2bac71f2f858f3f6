"""Is the best hit good enough to answer from, or should the assistant say it does not know?

Five signals of the best measure, combined by a logistic model:

- ``dense``: cosine of its best chunk to the question (meaning);
- ``lexical_raw``: best BM25 score of the question's own words (no expansion);
- ``coverage``: share of the question's content words found in that measure's text;
- ``lexical``: its BM25 score with the query expansion;
- ``scope_gap``: how much closer the question is to a topic the corpus does not
  cover (citizen services: 户籍, 社保, 医保, 个税, 婚姻, 驾照, 住房, 入学, 天气 …)
  than to its best chunk.

The weights were fitted by ``python -m eval.calibrate`` (logistic regression
on the bundled question set) and are plain numbers here, so the decision is
cheap and reproducible. Refit them when the tokenizer, the embedder or the
corpus changes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from index.expansion import QUERY_FILLER
from index.hybrid import FusionParams, HybridSearcher, MeasureHit

# Broad categories of government services that an industrial-policy corpus does
# not answer. Written as categories (a hotline's citizen-affairs topics), not as
# questions. Extend it when the corpus changes scope.
OUT_OF_SCOPE_TOPICS = (
    "个人所得税与个人纳税", "社会保险缴费与社保卡", "医疗保险与看病就医报销", "户籍迁移与居民身份证", "婚姻登记",
    "驾驶证与机动车登记", "买房、购房补贴、房产证与住房公积金", "子女入学与学校教育", "天气预报",
    "火车票、机票、船票与公共交通", "旅游景点与门票", "护照、签证与出入境", "失业登记与个人求职", "退休与养老金",
    "农村土地承包与宅基地", "殡葬与民政事务", "劳动争议仲裁", "物业、水电燃气与供暖", "消费者权益投诉",
    "医院挂号与疾病防控", "报警与治安", "退役军人事务", "低保与社会救助", "残疾人服务",
)

FEATURES = ("dense", "lexical_raw", "coverage", "lexical", "scope_gap")


@dataclass(frozen=True)
class RefusalModel:
    """P(out of scope) = sigmoid(w · (x - mean) / scale + bias); refuse above ``threshold``."""

    weights: tuple[float, ...] = (-0.5058, -0.3999, -0.162, -0.4, 0.5995)
    bias: float = -2.7849
    mean: tuple[float, ...] = (0.8979, 2.4378, 0.5182, 3.0525, -0.0365)
    scale: tuple[float, ...] = (0.02488, 0.97111, 0.38638, 1.01628, 0.04043)
    threshold: float = 0.45  # python -m eval.calibrate: 21/27 out-of-scope refused, 0/165 in-scope

    def probability(self, features: dict[str, float]) -> float:
        z = self.bias
        for name, w, m, s in zip(FEATURES, self.weights, self.mean, self.scale):
            z += w * (features[name] - m) / s
        return 1.0 / (1.0 + math.exp(-z))


class Relevance:
    def __init__(self, model: RefusalModel | None = None, keep_ratio: float = 0.85):
        self.model = model or RefusalModel()
        self.keep_ratio = keep_ratio
        self._anchors: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def anchors(self, embedder) -> np.ndarray:
        with self._lock:
            if embedder.name not in self._anchors:
                self._anchors[embedder.name] = embedder.encode_queries(list(OUT_OF_SCOPE_TOPICS))
            return self._anchors[embedder.name]

    def features(self, searcher: HybridSearcher, question: str, vector: np.ndarray, best: MeasureHit,
                 measure_text: str) -> dict[str, float]:
        raw = searcher.lexical_scores(question, FusionParams(expand_lexical=False, drop_filler=True))
        words = [t for t in searcher.tokenizer(question) if len(t) >= 2 and t not in QUERY_FILLER]
        coverage = sum(w in measure_text for w in words) / len(words) if words else 0.0
        scope = float((self.anchors(searcher.embedder) @ vector).max())
        dense = best.dense if best.dense > -1 else float(searcher.dense_scores(vector).max())
        return {"dense": dense, "lexical_raw": math.log1p(float(raw.max()) if len(raw) else 0.0),
                "coverage": coverage, "lexical": math.log1p(max(best.lexical, 0.0)), "scope_gap": scope - dense}

    def refuse(self, features: dict[str, float]) -> bool:
        return self.model.probability(features) > self.model.threshold

    def keep_with(self, hit: MeasureHit, best: MeasureHit) -> bool:
        """Other measures are shown beside the best one when their fused score is close to it."""
        return hit.score >= self.keep_ratio * best.score
