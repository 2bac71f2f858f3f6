"""Query expansion: how enterprises say it → the words the policy uses.

Enterprises ask 贷款难怎么办 or 招不到工人; policies say 融资, 信贷, 人才, 技能培训. The rules live
as data in ``index/data/expansion.tsv`` (lay phrases as regular-expression alternatives, then the
policy terms): when a lay phrase occurs in a question, its policy terms are added to the BM25
query. Words that carry no topic in a question (政府, 扶持, 我们厂 …) are listed in
``index/data/filler.txt`` and dropped from the lexical query. Both files are general vocabulary of
Chinese industrial policy, not phrasings of particular questions (index/data/README.md); their
fingerprint is recorded in every index manifest (:func:`knowledge_fingerprint`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
EXPANSION_FILE = DATA / "expansion.tsv"
FILLER_FILE = DATA / "filler.txt"
STOPWORDS_FILE = DATA / "stopwords.txt"


def _words_file(path: Path) -> frozenset[str]:
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            words.extend(line.split())
    return frozenset(words)


@lru_cache(maxsize=1)
def lexicon() -> tuple[tuple[re.Pattern[str], str], ...]:
    """(lay phrases, policy terms) rules of expansion.tsv, compiled."""
    rules = []
    for number, line in enumerate(EXPANSION_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        pattern, _, terms = line.partition("\t")
        if not terms:
            raise ValueError(f"{EXPANSION_FILE}, line {number}: expected 'phrases<TAB>terms'")
        rules.append((re.compile(pattern), terms))
    return tuple(rules)


QUERY_FILLER: frozenset[str] = _words_file(FILLER_FILE)


# the clauses of a question: 我们是做钓竿的，外国客户要数据，市里有试点吗？ → three
_CLAUSE = re.compile(r"[，,；;。！!？?]")


def asking_clause(query: str) -> str:
    """The last clause of a question of several (what it asks, after the context the asker gives: 市里
    在我们这个行业有试点吗 in 我们是做钓竿的，…，市里在我们这个行业有试点吗？); "" for a one-clause question.
    The lexical query repeats it once, so its words weigh twice (measured on the tuning parts:
    index/data/README.md)."""
    clauses = [c for c in _CLAUSE.split(query) if c.strip()]
    return clauses[-1].strip() if len(clauses) >= 2 else ""


def lexical_query(query: str, expand: bool = True, words: Sequence[str] = ()) -> str:
    """What the BM25 side searches for ``query``: the question, its asking clause once more, and (``expand``)
    the policy terms of its lay phrases (``words``: the question's words, see :func:`expansion_terms`). The in-process
    searcher and Milvus both read it from here."""
    text = f"{query} {asking_clause(query)}".strip()
    return f"{text} {expansion_terms(query, words)}" if expand else text


def expansion_terms(query: str, words: Sequence[str] = ()) -> str:
    """The policy terms for the lay phrases in ``query`` (space-separated, deduplicated).

    ``words``: the question's words in order (``Tokenizer.words``). A one-character lay phrase (碳, 船, 洋) found
    only inside a longer word of the question is a character of another word and adds nothing, unless that word
    holds one of the rule's terms or is part of one: 碳 of 碳纤维 does not add 节能降碳 (碳纤维有哪些支持？ cited
    the energy-saving measure second), 洋 of 远洋 adds no 境外, while 碳 of 低碳 (part of 绿色低碳) still fires.
    Longer phrases fire inside longer words (检查 of 检查组, 化工 of 化工企业). Without ``words`` every phrase
    found fires.
    """
    spans = [span for span in _word_spans(query, words) if span[1] - span[0] > 1]
    fired = [(policy_terms, found) for pattern, policy_terms in lexicon()
             if (found := [m for m in pattern.finditer(query) if m.group()])]
    terms: list[str] = []
    for policy_terms, found in fired:
        # the longest phrase decides: 企业家 inside 企业家过的节日 (企业家日) adds no 经营管理人员培训, 规上 inside
        # 规上工业要涨几个点 no 小升规
        longer = [m.span() for other, matches in fired if other != policy_terms for m in matches]
        if all(_inside(m.span(), longer) for m in found):
            continue
        rule_terms = policy_terms.split()
        if not any(len(m.group()) > 1 for m in found):  # one-character phrases only: which stand as words?
            enclosing = [(s, e) for s, e in spans if not any(t in query[s:e] or query[s:e] in t for t in rule_terms)]
            if all(_inside(m.span(), enclosing) for m in found):
                continue
        terms.extend(rule_terms)
    return " ".join(dict.fromkeys(terms))


def _word_spans(query: str, words: Sequence[str]) -> list[tuple[int, int]]:
    """(start, end) of each of ``words`` found in ``query`` in order; a word not found there is skipped."""
    spans, at = [], 0
    for word in words:
        start = query.find(word, at)
        if start >= 0:
            spans.append((start, start + len(word)))
            at = start + len(word)
    return spans


def _inside(span: tuple[int, int], words: list[tuple[int, int]]) -> bool:
    """Does ``span`` lie inside one of ``words`` that is longer than it?"""
    start, end = span
    return any(s <= start and end <= e and e - s > end - start for s, e in words)


def lay_phrases(query: str, term: str) -> list[str]:
    """The phrases of ``query`` that stand for the policy ``term`` or a term holding it (个税 in 个税那个文件 for
    个人所得税; 综保区 for 保税区, a word of 综合保税区)."""
    return list(dict.fromkeys(m.group() for pattern, terms in lexicon() if any(term in t for t in terms.split())
                              for m in pattern.finditer(query) if m.group()))


# Terms a document defines for itself: 中小企业发展专项资金（以下简称专项资金）, OPC（One Person Company，一人公司）.
_SHORT_FOR = re.compile(r"(?P<long>[\u4e00-\u9fffA-Za-z0-9]{2,30})[（(](?:以下)?简称[：:]?[“\"「]?"
                        r"(?P<short>[^”\"」）)，,、；;]{1,12})[”\"」]?[）)]")
_GLOSSED = re.compile(r"(?<![A-Za-z])(?P<short>[A-Za-z][A-Za-z0-9]{1,7})[（(](?P<inner>[^（）()]{2,60})[）)]")
_PHRASE_START = re.compile(r".*[由对在为将把向从给和与及的、，,]")  # 本措施由广州市…发展局 → 广州市…发展局


def defined_terms(texts) -> dict[str, tuple[str, ...]]:
    """term → the terms it stands for, from the documents' own definitions.

    ``中小企业发展专项资金（以下简称专项资金）`` gives 中小企业发展专项资金 → 专项资金 (not back: 专项资金 asked
    would then favour the defining article over the one on what is asked);
    ``OPC（One Person Company，一人公司）`` gives OPC ↔ 一人公司 (the Chinese glosses of 2-10 characters
    inside the parenthesis after a Latin abbreviation; the long form starts after the last 由, 对, 的 … before
    it, so a leading verb stays: 设立…专项资金). A question in one form then also searches the
    other: 一人公司有哪些补贴？ finds the measures that say OPC. ``texts``: the documents' full texts.
    """
    pairs: dict[str, dict[str, None]] = {}

    def add(a: str, b: str) -> None:
        if a and b and a != b:
            pairs.setdefault(a, {})[b] = None
            pairs.setdefault(b, {})[a] = None

    for text in texts:
        for match in _SHORT_FOR.finditer(text):
            long = _PHRASE_START.sub("", match.group("long"))
            if len(long) > len(match.group("short")) >= 2:
                # one way only: the document says the short form from then on, so a question in the short form
                # finds its articles as asked; the long form would only favour the article that defines it
                pairs.setdefault(long, {})[match.group("short").strip()] = None
        for match in _GLOSSED.finditer(text):
            for part in re.split(r"[，,、；;]", match.group("inner")):
                part = part.strip()
                if re.fullmatch(r"[\u4e00-\u9fff]{2,10}", part):
                    add(match.group("short"), part)
    return {term: tuple(others) for term, others in pairs.items()}


def with_defined_terms(query: str, defined: dict[str, tuple[str, ...]]) -> str:
    """``query`` followed by the terms its defined terms stand for (case-insensitive for Latin ones)."""
    folded = query.lower()
    extra = [other for term, others in defined.items() if term.lower() in folded for other in others
             if other.lower() not in folded]
    return f"{query} {' '.join(dict.fromkeys(extra))}" if extra else query


def knowledge_fingerprint() -> dict[str, str]:
    """sha256 (first 16 hex digits) of each word list the lexical side reads: recorded in the manifest."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            for path in (EXPANSION_FILE, FILLER_FILE, STOPWORDS_FILE)}
