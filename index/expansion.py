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


def expansion_terms(query: str) -> str:
    """The policy terms for the lay phrases in ``query`` (space-separated, deduplicated)."""
    terms: list[str] = []
    for pattern, policy_terms in lexicon():
        if pattern.search(query):
            terms.extend(policy_terms.split())
    return " ".join(dict.fromkeys(terms))


def knowledge_fingerprint() -> dict[str, str]:
    """sha256 (first 16 hex digits) of each word list the lexical side reads: recorded in the manifest."""
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            for path in (EXPANSION_FILE, FILLER_FILE, STOPWORDS_FILE)}
