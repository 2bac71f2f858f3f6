"""Turning Chinese policy text and questions into tokens for BM25.

The tokenizer is a callable object you build once and pass to whatever needs
tokens (index building, query time, evaluation), never a module global:
jieba takes about a second to load its dictionary, so each ``Tokenizer``
loads its own ``jieba.Tokenizer`` lazily, on first use, together with the
corpus' user dictionary (department names, quoted terms such as “头号工程”,
the subjects of measure titles such as 智改数转网联).

Text is normalised before it is cut, so full-width and half-width input
(（一）/(一), ％/%, ＡＩ/ai) and traditional and simplified characters give the
same tokens.

Defaults were chosen by measuring BM25 top-1/top-3 on 72 enterprise-style
questions against the 21 measures of the seed document: jieba precise mode,
the user dictionary with each term's dictionary parts emitted beside it, plus
the character bigrams of every run of Chinese content words (top-1 70/72 vs
67/72 for jieba words alone; ``jieba.cut_for_search`` 66/72; dropping 企业/支持/
政策 from questions changed nothing once bigrams are on).
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from pathlib import Path
from typing import Iterable

import zhconv

__all__ = [
    "DEFAULT_STOPWORDS",
    "Tokenizer",
    "build_user_terms",
    "normalize_text",
    "quoted_terms",
]

# Question words, pronouns and fillers as enterprises type them, plus the function words that occur
# in every measure: index/data/stopwords.txt (content words such as 企业, 支持 and 政策 are kept:
# BM25's idf already makes the ones that occur in every measure nearly weightless, and dropping them
# from queries measured no better; see the module docstring). Punctuation and whitespace are also
# dropped by category (any token without a letter or a digit), so they are listed only for clarity.
_PUNCTUATION = (
    "。，、；：？！“”‘’「」『』（）《》〈〉【】〔〕…—～·"
    ".,;:?!\"'()[]{}<>-_/\\|+*=&^%$#@~`"
    " \t\n\r\u3000"
)
_STOPWORDS_FILE = Path(__file__).parent / "data" / "stopwords.txt"
DEFAULT_STOPWORDS: frozenset[str] = frozenset(
    [w for line in _STOPWORDS_FILE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")
     for w in line.split()] + list(_PUNCTUATION)
)

# jieba only keeps runs of these characters together (its ``re_han_default``);
# a user term with anything else inside (·, 、, spaces, brackets) can never be
# one token, so build_user_terms splits such terms at those characters.
_JIEBA_WORD_CHARS = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
_CJK = re.compile(r"[\u4E00-\u9FFF]")

# Quoted spans: “…” 「…」 『…』 and ASCII "…" (not ‘…’: ’ doubles as an apostrophe). Page breaks may sit inside
# a quote (“技能\n\n兴威”); whitespace is removed before the length check.
_QUOTED = re.compile(r"“([^“”]{1,40})”|「([^「」]{1,40})」|『([^『』]{1,40})』|\"([^\"]{1,40})\"")
_QUOTED_MIN, _QUOTED_MAX = 2, 12

# Leading verbs of measure titles (推动…, 强化…, 加力推进…): what follows them
# is the subject of the measure, a term worth keeping whole (智改数转网联,
# 工贸协同, 科工一体).
_TITLE_VERBS = tuple(
    """
    加力推进 推动 着力 加强 强化 优化 提升 培育 壮大 前瞻 布局 实施 加力 推进 做强 做大 做优
    聚力 全面 提高 加速 加快 健全 畅通 完善 构建 深化 深入 扩大 打造 发展 促进 支持 坚持
    """.split()
)
_TITLE_SUBJECT_MIN, _TITLE_SUBJECT_MAX = 2, 12
_QUOTE_CHARS = frozenset("“”「」『』\"")

# A user term gets the frequency jieba's suggest_freq says keeps it whole,
# and at least this much. Much higher values are harmful: every add_word also
# raises jieba's total count, which shifts how *all other* text is cut (at
# 100,000 per term, 500 万元以上 and 技术成果 came out as single words).
_USER_TERM_MIN_FREQ = 1_000


# Texts up to this many characters (questions, titles, terms) are cached: answering one question
# normalizes and cuts the same short strings 15-20 times (scope, routing, refusal features, search),
# ~1.5 ms of CPU a question before the cache (cProfile over 120 seed questions). Longer texts (chunks
# while building) are not kept.
_CACHE_MAX_CHARS = 256
_CACHE_ENTRIES = 4096


def normalize_text(text: str) -> str:
    """NFKC (full-width ASCII → half-width), traditional → simplified, lowercase.

    ``（一）`` and ``(一)``, ``７％`` and ``7%``, ``數位轉型`` and ``数位转型``
    come out the same. Use it for matching only: offsets into the original
    text are not preserved (NFKC may change lengths). Short texts are cached.
    """
    if len(text) <= _CACHE_MAX_CHARS:
        return _normalize_cached(text)
    return _normalize(text)


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _normalize_cached(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = zhconv.convert(text, "zh-cn")
    return text.lower()


def quoted_terms(text: str) -> list[str]:
    """Terms in “…”, "…", 「…」 or 『…』 quotes, 2-12 characters, in order, no duplicates.

    Whitespace inside a quote (a page break) is removed: “技能\\n\\n兴威” → 技能兴威.
    """
    seen: dict[str, None] = {}
    for match in _QUOTED.finditer(text):
        raw = next(group for group in match.groups() if group is not None)
        term = "".join(raw.split())
        if _QUOTED_MIN <= len(term) <= _QUOTED_MAX:
            seen.setdefault(term, None)
    return list(seen)


def _title_subject(title: str) -> str | None:
    """The part of a measure title after its leading verbs: 加力推进智改数转网联 → 智改数转网联."""
    if _QUOTE_CHARS & set(title):
        return None  # 实施“人工智能+制造”行动: the quoted term is the subject
    subject = title.strip()
    stripped = True
    while stripped:
        stripped = False
        for verb in _TITLE_VERBS:
            if subject.startswith(verb) and len(subject) - len(verb) >= _TITLE_SUBJECT_MIN:
                subject = subject[len(verb) :]
                stripped = True
                break
    if subject == title.strip() or not (_TITLE_SUBJECT_MIN <= len(subject) <= _TITLE_SUBJECT_MAX):
        return None
    return subject


def build_user_terms(
    titles: Iterable[str] = (),
    departments: Iterable[str] = (),
    quoted_terms: Iterable[str] = (),
) -> list[str]:
    """The user dictionary for a corpus, normalised, deduplicated, in a stable order.

    - ``departments``: full names (市工业和信息化局, 人民银行威海市分行), kept as they are;
    - ``quoted_terms``: terms found by :func:`quoted_terms` (头号工程, 小快轻准, 专精特新);
    - ``titles``: measure titles; what follows the leading verbs becomes a term
      (加力推进智改数转网联 → 智改数转网联, 强化工贸协同 → 工贸协同).

    A term with characters jieba never keeps inside a word (·, 、, brackets,
    spaces) is split there, and the pieces of 2+ characters are kept:
    好品威海·商通四海 → 好品威海, 商通四海.
    """
    candidates: list[str] = []
    candidates.extend(departments)
    candidates.extend(quoted_terms)
    for title in titles:
        subject = _title_subject(title)
        if subject is not None:
            candidates.append(subject)

    seen: dict[str, None] = {}
    for candidate in candidates:
        for piece in _JIEBA_WORD_CHARS.findall(normalize_text(candidate)):
            if len(piece) >= 2 and _CJK.search(piece):
                seen.setdefault(piece, None)
    return list(seen)


_CONJUNCTION = re.compile(r"(?<=[\u4e00-\u9fff])([和与及])(?=[\u4e00-\u9fff])")


def _split_guessed(word: str, jieba_tokenizer) -> list[str]:
    """A word that jieba's HMM guessed across a conjunction (集和绿电 in 数据集和绿电产业园), not one of its
    dictionary's, split there: 集, 和, 绿电. Dictionary words keep theirs (工业和信息化局, 和谐)."""
    if len(word) < 3 or not _CONJUNCTION.search(word) or word in jieba_tokenizer.FREQ:
        return [word]
    return [piece for piece in _CONJUNCTION.split(word) if piece]


def _is_content_token(token: str) -> bool:
    """True for tokens with a letter or a digit and no whitespace."""
    if not token or any(ch.isspace() for ch in token):
        return False
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


_BASE_DICTIONARY: tuple[dict[str, int], int] | None = None
_BASE_LOCK = threading.Lock()


def _base_dictionary() -> tuple[dict[str, int], int]:
    """jieba's own dictionary (word → frequency, and their total), read once per process.

    Reading it holds the GIL (a server's queries stall meanwhile); a tokenizer then
    copies it in ~25 ms (+15 MiB: the words are shared) before adding its user terms,
    so opening a rebuilt index does not stall the queries. Never changed.
    """
    global _BASE_DICTIONARY
    with _BASE_LOCK:
        if _BASE_DICTIONARY is None:
            from corpus.jieba_words import default_jieba

            default = default_jieba()  # jieba's default tokenizer: one copy per process, also the parser's
            _BASE_DICTIONARY = (default.FREQ, default.total)
        return _BASE_DICTIONARY


class Tokenizer:
    """``tokenizer(text) -> list[str]``: normalise, cut with jieba, drop stopwords.

    Parameters
    ----------
    user_terms:
        Terms that must stay whole (build them with :func:`build_user_terms`).
        Each is also followed by the words of 2+ characters that jieba's own
        dictionary splits it into (头号工程 → 头号工程, 头号, 工程), so a
        question that uses only a part still matches; turn that off with
        ``expand_user_terms=False``.
    stopwords:
        Tokens to drop (compared after normalisation). Tokens without a
        letter or digit (punctuation, whitespace) are always dropped.
    char_bigrams:
        Also emit the character bigrams of each run of consecutive Chinese
        content words (a run stops at a stopword or punctuation), so 贷款难
        still meets 贷款 and a word jieba cut differently in the question and
        in the text still matches. On by default (measured better).

    Thread-safe: jieba is loaded once per instance, under a lock; cutting
    after that only reads jieba's dictionary.
    """

    def __init__(
        self,
        user_terms: Iterable[str] = (),
        stopwords: Iterable[str] = DEFAULT_STOPWORDS,
        *,
        expand_user_terms: bool = True,
        char_bigrams: bool = True,
    ) -> None:
        terms: dict[str, None] = {}
        for term in user_terms:
            normalized = normalize_text(term).strip()
            if normalized:
                terms.setdefault(normalized, None)
        self.user_terms: tuple[str, ...] = tuple(terms)
        self.stopwords: frozenset[str] = frozenset(normalize_text(w) for w in stopwords)
        self.expand_user_terms = expand_user_terms
        self.char_bigrams = char_bigrams
        self._jieba = None  # jieba.Tokenizer, loaded on first call
        self._parts: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        # short text -> its tokens ("t") or words ("w"); cleared when full (see _remember)
        self._cache: dict[tuple[str, str], tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return (
            f"Tokenizer(user_terms=<{len(self.user_terms)} terms>, "
            f"stopwords=<{len(self.stopwords)} words>, expand_user_terms={self.expand_user_terms}, "
            f"char_bigrams={self.char_bigrams})"
        )

    @property
    def loaded(self) -> bool:
        """Whether jieba and the user dictionary are in memory yet."""
        return self._jieba is not None

    def load(self) -> None:
        """Load jieba and the user dictionary now rather than on the first call."""
        self._ensure_jieba()

    def _ensure_jieba(self):
        jieba_tokenizer = self._jieba
        if jieba_tokenizer is not None:
            return jieba_tokenizer
        with self._lock:
            if self._jieba is None:
                self._jieba = self._load_jieba()
            return self._jieba

    def _load_jieba(self):
        import jieba  # imported here: importing is cheap, but keep jieba out of module import

        freq, total = _base_dictionary()
        jieba_tokenizer = jieba.Tokenizer()
        jieba_tokenizer.FREQ, jieba_tokenizer.total = dict(freq), total  # what initialize() would load
        jieba_tokenizer.initialized = True
        if self.expand_user_terms:
            # the words a term splits into without the user dictionary
            self._parts = {
                term: tuple(
                    part
                    for part in jieba_tokenizer.cut(term, HMM=False)
                    if part != term and len(part) >= 2 and self._keep(part)
                )
                for term in self.user_terms
            }
        for term in self.user_terms:
            needed = jieba_tokenizer.suggest_freq(term, tune=False)
            jieba_tokenizer.add_word(term, freq=max(needed, _USER_TERM_MIN_FREQ))
        for term in self.user_terms:  # a later term may have split an earlier one
            if list(jieba_tokenizer.cut(term)) != [term]:
                jieba_tokenizer.suggest_freq(term, tune=True)
        return jieba_tokenizer

    def _keep(self, token: str) -> bool:
        return token not in self.stopwords and _is_content_token(token)

    def __call__(self, text: str) -> list[str]:
        if len(text) > _CACHE_MAX_CHARS:
            return self._tokens(text)
        cached = self._cache.get(("t", text))
        if cached is None:
            cached = tuple(self._tokens(text))
            self._remember(("t", text), cached)
        return list(cached)

    def _remember(self, key: tuple[str, str], value: tuple[str, ...]) -> None:
        if len(self._cache) >= _CACHE_ENTRIES:
            self._cache.clear()  # questions repeat within a conversation, rarely across thousands
        self._cache[key] = value

    def _tokens(self, text: str) -> list[str]:
        jieba_tokenizer = self._ensure_jieba()
        text = normalize_text(text)
        words = jieba_tokenizer.cut(text, HMM=True)  # precise mode, new words by HMM
        tokens: list[str] = []
        run: list[str] = []  # consecutive Chinese content words, for bigrams
        for word in words:
            if not self._keep(word):
                self._flush_bigrams(run, tokens)
                continue
            tokens.append(word)
            parts = self._parts.get(word)
            if parts:
                tokens.extend(parts)
            if self.char_bigrams and _CJK.search(word):
                run.append(word)
            else:
                self._flush_bigrams(run, tokens)
        self._flush_bigrams(run, tokens)
        return tokens

    def words(self, text: str) -> list[str]:
        """jieba's words of ``text`` in order, normalized, with nothing dropped (no bigrams)."""
        cached = self._cache.get(("w", text)) if len(text) <= _CACHE_MAX_CHARS else None
        if cached is None:
            jieba_tokenizer = self._ensure_jieba()
            cached = tuple(piece for w in jieba_tokenizer.cut(normalize_text(text), HMM=True) if w.strip()
                           for piece in _split_guessed(w, jieba_tokenizer))
            if len(text) <= _CACHE_MAX_CHARS:
                self._remember(("w", text), cached)
        return list(cached)

    def _flush_bigrams(self, run: list[str], tokens: list[str]) -> None:
        if not run:
            return
        chars = "".join(run)
        for i in range(len(chars) - 1):
            bigram = chars[i : i + 2]
            if _CJK.match(bigram[0]) and _CJK.match(bigram[1]) and bigram not in self.stopwords:
                tokens.append(bigram)
        run.clear()
