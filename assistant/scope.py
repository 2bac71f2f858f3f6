"""Which documents a question is about, resolved once per question.

A question that names a document — by 文号, by its title or short title (外贸那个文件, 罗湖区OPC若干
措施), by a place (郑州…, 深圳南山区…), by its issuer (国务院的文件) or by a year (2018年的意见) —
is answered from the document(s) it names and only those. Places follow the administrative
hierarchy: the documents of the place named and of the levels above it (a State Council document
applies everywhere). When no document covers the place, the scope says so, naming what the corpus
does hold for the same parent place, so the answer never uses another place's policy as if it applied.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

from assistant.catalog import DOC_TYPES, DOC_WORDS, WEAK_DOC_WORDS, Catalog, DocInfo
from assistant.places import Place
from index.tokenization import normalize_text

_BRACKETS = str.maketrans({"〔": "[", "〕": "]", "［": "[", "］": "]", "【": "[", "】": "]", "(": "[", ")": "]",
                           "（": "[", "）": "]", "號": "号"})
_YEAR_DOC = re.compile(r"(?P<y>(?:19|20)\d{2})\s*年(?:版|(?:的|出台|印发|发布|制定|度)?.{0,6}?"
                       r"(?:文件|方案|政策|措施|意见|通知|办法|条例|计划|规定))")
_NATIONAL_WORDS = re.compile(r"国务院|国家层面|全国性")
_QUOTED = re.compile(r"《([^》]{2,60})》")


@dataclass(frozen=True)
class Scope:
    """The documents a question may be answered from."""

    doc_ids: tuple[str, ...] | None = None  # None: every document
    named: tuple[str, ...] = ()  # how the question named them: 文号, 标题, 地点, 发文机关, 年份
    places: tuple[Place, ...] = ()
    uncovered: str | None = None  # no document applies at the place named: what to say instead
    names: tuple[str, ...] = ()  # the words of the question that named the documents (not its topic)
    own: tuple[str, ...] = ()  # of doc_ids, those of the place named itself (or below it), not of the levels above

    @property
    def everything(self) -> bool:
        return self.doc_ids is None

    def allows(self, doc_id: str) -> bool:
        return self.doc_ids is None or doc_id in self.doc_ids


EVERYTHING = Scope()


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", normalize_text(text)).translate(_BRACKETS)


def resolve(question: str, catalog: Catalog) -> Scope:
    """The documents ``question`` names, or every document when it names none."""
    q = _squeeze(question)
    found: list[tuple[str, set[str]]] = []
    written: list[str] = []
    numbered = {i.doc_id for i in catalog.infos if i.document.doc_number and _squeeze(i.document.doc_number) in q}
    if numbered:
        found.append(("文号", numbered))
        written += [catalog.info(d).document.doc_number for d in numbered]
    titled, strong, title_words = _by_title(q, catalog)
    if titled:
        found.append(("标题", titled))
        written += title_words
    places, covering, uncovered, mentioned = _by_place(question, catalog)
    if places:
        found.append(("地点", covering))
        # the places named are not the topic (昆山有哪些政策？ lists the documents that apply there), unless
        # the documents speak of a place without documents of its own (哪些措施提到了乳山？ in 威海's plan)
        written += [n for p in mentioned if _has_documents(p, catalog) or not _in_documents(p, catalog)
                    for n in (p.name, *p.aliases)]
    issued, issuer_words = _by_issuer(q, catalog)
    if issued:
        found.append(("发文机关", issued))
        written += issuer_words
    year = _YEAR_DOC.search(q)
    if year:
        in_year = {i.doc_id for i in catalog.infos if i.year == int(year.group("y"))
                   or year.group("y") in i.document.title}
        if in_year:
            found.append(("年份", in_year))
            written.append(year.group("y") + "年")
    if not found:
        return EVERYTHING
    names = tuple(sorted(set(written), key=len, reverse=True))
    if places and not covering and not (numbered or titled):
        return Scope(doc_ids=(), named=("地点",), places=tuple(places), uncovered=uncovered, names=names)
    chosen = set.intersection(*(ids for _, ids in found))
    named = tuple(name for name, _ in found)
    if not chosen:  # contradicting names: 文号 and a title written out win; words of a title give way
        ranked = sorted(found, key=lambda f: {"文号": 0, "标题": 1 if strong else 3, "地点": 2}.get(f[0], 4))
        name, chosen = ranked[0]
        named = (name,)
    order = [i.doc_id for i in catalog.infos if i.doc_id in chosen]
    gazetteer = catalog.gazetteer
    own = tuple(d for d in order if places and catalog.info(d).place is not None
                and any(gazetteer.is_within(catalog.info(d).place, p) for p in places))
    return Scope(doc_ids=tuple(order), named=named, places=tuple(places), names=names, own=own)


# the words for a document a place may be followed by (办法, 实施意见, 文件 …; not 政策, which a place's policies
# from the levels above also are), longest first, as a regular-expression alternation
_DOCUMENT_KINDS = "|".join(map(re.escape, sorted({w for w in (*DOC_TYPES, *DOC_WORDS)
                                                  if len(w) >= 2 and w not in ("政策", "这份", "那份")},
                                                 key=len, reverse=True)))


def names_own_document(question: str, scope: Scope) -> bool:
    """The question names a place's document, not only the place: the place is followed by a word for a
    document (历下区办法, 泰安的实施意见, 山东省的文件), so the documents of the levels above that also
    apply there are not meant."""
    if not scope.places or not scope.own:
        return False
    places = "|".join(re.escape(n) for n in sorted(scope.names, key=len, reverse=True)
                      if any(n in (p.name, *p.aliases) for p in scope.places))
    return bool(places) and re.search(rf"(?:{places})(?:的|出台的|印发的)?(?:{_DOCUMENT_KINDS})",
                                      normalize_text(question)) is not None


def own_documents(scope: Scope) -> Scope:
    """For questions about the documents themselves (泰安的文件第五条, 环翠区的文件有几条措施, 泰安市工信局参与
    哪些): the named place's own documents when it has some, not those of the levels above that also apply."""
    if not scope.own or scope.own == scope.doc_ids:
        return scope
    return replace(scope, doc_ids=scope.own)


def _by_title(q: str, catalog: Catalog) -> tuple[set[str], bool, list[str]]:
    """(documents the question names by title, whether the name was written out, the words that named them).

    Written out: 《…》, the title or the short title (泰安OPC实施意见). Otherwise distinctive
    title words (综合保税区, 个人所得税) with a word for a document (文件, 措施, 意见…) name it.
    """
    named: set[str] = set()
    words: list[str] = []
    for quoted in _QUOTED.findall(q):
        squeezed = _squeeze(quoted)
        hit = {i.doc_id for i in catalog.infos
               if any(squeezed in _squeeze(v) or _squeeze(v) in squeezed for v in i.title_variants)}
        if hit:
            named |= hit
            words.append(quoted)
    if named:
        return named, True, words
    loose = q.replace("的", "")  # 泰安市的OPC实施意见 names 泰安市OPC实施意见
    for info in catalog.infos:
        for variant in info.title_variants:
            squeezed = _squeeze(variant)
            if squeezed in q or (len(squeezed) >= 6 and squeezed.replace("的", "") in loose):
                named.add(info.doc_id)
                words.append(variant)
    if named:
        return named, True, words
    tokens = set(catalog.words(q))
    if not _speaks_of_a_document(q, tokens):
        return set(), False, []  # a word for a document, as a word of its own (规划 in 整体规划 is not one)
    # distinctive words of one title (综合保税区, 个人所得税): idf-weighted, at least one rare word
    n = len(catalog.infos)
    df: dict[str, int] = {}
    for info in catalog.infos:
        for word in info.keywords:
            df[word] = df.get(word, 0) + 1
    scores: dict[str, float] = {}
    hits_of: dict[str, list[str]] = {}
    from index.expansion import expansion_terms, lay_phrases

    # 个税 → 个人所得税: a title word said the lay way, when the question speaks of a document (那个文件, 办法);
    # 措施 and 政策 alone name none (哪些措施有奖励100万元 is no question about the 专项资金 办法)
    named_document = _speaks_of_a_document(q, tokens, besides=WEAK_DOC_WORDS)
    lay_terms = expansion_terms(q).split() if named_document else []  # 综保区 → 综合保税区 (= 综合 + 保税区)
    # each lay term with its words, cut once; they count only where the title holds the whole term (综合保税区 of
    # 综保区), not a word of it alone (开放 of 场景开放, for 揭榜, named the 综合保税区…开放 opinions)
    lay_words = [(_squeeze(t), {normalize_text(w) for w in [t, *catalog.words(t)]}) for t in lay_terms]
    unnamed = catalog.without_departments(q)  # 市民营经济发展局负责哪些: 经济 there is a department's word
    for info in catalog.infos:
        title = _squeeze(info.document.title) if lay_words else ""
        lay = set().union(*(words for term, words in lay_words if term in title))
        hits = [w for w in info.keywords if w in unnamed or w in lay]
        if hits and min(df[w] for w in hits) <= max(1, n // 6):
            scores[info.doc_id] = sum(math.log((n + 1) / df[w]) for w in hits)
            hits_of[info.doc_id] = hits
    if not scores:
        return set(), False, []
    best = max(scores.values())
    chosen = {doc_id for doc_id, score in scores.items() if score >= 0.8 * best}
    # a title word said the lay way names the document by the words written (个税, not 个人所得税)
    return chosen, False, [span for d in chosen for w in hits_of[d]
                           for span in _title_spans(q, w, _squeeze(catalog.info(d).document.title))
                           + ([] if w in unnamed else lay_phrases(q, w))]


def _speaks_of_a_document(q: str, tokens: set[str], besides: frozenset[str] = frozenset()) -> bool:
    """Whether ``q`` holds a word for a document (文件, 意见, 实施方案 …) as a word of its own (``tokens``: its
    jieba words; 规划 in 整体规划 is none), not counting the words ``besides``."""
    return any(word in tokens or (len(word) > 2 and word in q) for word in DOC_WORDS if word not in besides) \
        or bool(tokens & (set(DOC_TYPES) - besides))


def _title_spans(q: str, word: str, title: str) -> list[str]:
    """``word`` and, around each place ``q`` holds it, the longest stretch of ``q`` that the title holds too:
    促进就业的意见 names 《…促进就业工作的若干意见》 by 就业, and 促进就业 is naming, not a topic."""
    spans = [word]
    start = q.find(word)
    while start >= 0:
        left, right = start, start + len(word)
        while left > 0 and q[left - 1:right] in title:
            left -= 1
        while right < len(q) and q[left:right + 1] in title:
            right += 1
        if right - left > len(word):
            spans.append(q[left:right])
        start = q.find(word, start + 1)
    return spans


def _mentioned(place: Place, catalog: Catalog, question: str) -> bool:
    """Whether the question names the place inside a phrase the documents hold: the name with the two
    characters before or after it in the question (香港优质 in 香港优质“正”印认证). 上海有什么OPC补贴 is about
    上海 as a place even when a document speaks of 上海 (承接上海“科创溢出”)."""
    from assistant.relevance import scope_text

    text = scope_text(catalog, None)
    for name, before, after in _occurrences(place, question):
        if _beside(name, before, after, text, 2):
            return True
        # words between: 借青岛那个外企老总峰会 names the 青岛峰会 that the documents hold (跨国公司领导人青岛峰会)
        clause = re.split(r"[，,。；;？?！!、]", after[:MENTION_SPAN], maxsplit=1)[0]
        if any(word in clause for word in _words_after(name, catalog)):
            return True
    return False


def in_a_phrase(question: str, names: tuple[str, ...], catalog: Catalog) -> bool:
    """Whether a name of ``names`` (a place named) sits in ``question`` inside a longer phrase the documents hold:
    the name with the PHRASE_SPAN characters after or before it (威海企业家日 in 第20条's “威海企业家日”). Such a name
    is part of what is asked, not only where."""
    from assistant.relevance import scope_text

    text = scope_text(catalog, None)
    return any(_beside(name, before, after, text, PHRASE_SPAN)
               for name, before, after in _found(names, normalize_text(question)))


PHRASE_SPAN = 3  # characters beside a place name that make it part of a document's phrase (in_a_phrase)


def _beside(name: str, before: str, after: str, text: str, span: int) -> bool:
    """Whether ``name`` with the ``span`` characters after it, or before it, in the question is in ``text``."""
    return (len(after) >= span and name + after[:span] in text) or (len(before) >= span and before[-span:] + name in text)


def _occurrences(place: Place, question: str):
    """(name, text before it, text after it) for each place name of two characters or more found in ``question``."""
    yield from _found((place.name, *place.aliases), question)


def _found(names, question: str):
    """(name, text before it, text after it) for each of ``names`` of two characters or more found in ``question``."""
    for name in {normalize_text(n) for n in names if len(n) >= 2}:
        for found in re.finditer(re.escape(name), question):
            yield name, question[:found.start()], question[found.end():]


PHRASE_AFTER = 8  # characters after a place name in the documents whose two-character words belong to its phrase
MENTION_SPAN = 12  # characters after a place name in which a word the documents put right after it is looked for


def _words_after(name: str, catalog: Catalog) -> frozenset[str]:
    """The two-character words of the PHRASE_AFTER characters that follow ``name`` wherever the documents hold it,
    quotes dropped (青岛峰会 → 峰会; 香港优质“正”印认证 → 优质, 质正, 正印, 印认, 认证), cached on the catalog."""
    from assistant.relevance import scope_text

    cache = catalog.__dict__.setdefault("_words_after", {})
    if name not in cache:
        # not the rest of the place's own name or a joining word (上海市…, 青岛和…): those say nothing of a phrase
        words = set()
        for m in re.finditer(re.escape(name) + r"([^，,。；;：:、\n]{0,%d})" % PHRASE_AFTER, scope_text(catalog, None)):
            chinese = re.sub(r"[^\u4e00-\u9fff]", "", m.group(1))  # 香港优质“正”印认证 → 优质正印认证
            if chinese[:1] and chinese[0] in "市省区县镇乡州的和与及等":
                continue
            words |= {chinese[i:i + 2] for i in range(len(chinese) - 1)}
        cache[name] = frozenset(words)
    return cache[name]


@lru_cache(maxsize=1)
def _market_words() -> dict[str, tuple[str, ...]]:
    """assistant/data/words/place_as_market.txt: {"before", "after", "not_after", "like_before", "like_after": words},
    longest first."""
    path = Path(__file__).parent / "data" / "words" / "place_as_market.txt"
    out: dict[str, tuple[str, ...]] = {"before": (), "after": (), "not_after": (), "like_before": (), "like_after": ()}
    for line in path.read_text(encoding="utf-8").splitlines():
        side, _, words = line.partition(":")
        if side.strip() in out and not line.startswith("#"):
            out[side.strip()] = tuple(sorted(words.split(), key=len, reverse=True))
    return out


def _as_market(place: Place, question: str) -> bool:
    """Whether the question names the place as where goods go or a market (打进香港市场, 销往上海, 对港出口
    with 港 an alias; assistant/data/words/place_as_market.txt), not as where the asker is."""
    words = _market_words()
    for _, before, after in _occurrences(place, question):
        after = after[1:] if after.startswith("的") else after  # 上海的客户
        if after.startswith(words["not_after"]):
            continue
        if before.endswith(words["before"]) or after.startswith(words["after"]):
            return True
    return False


def _as_model(place: Place, question: str) -> bool:
    """Whether the question names the place as a model to compare with (类似海珠那样, 像武汉一样)."""
    words = _market_words()
    return any(before.endswith(words["like_before"]) or after.startswith(words["like_after"])
               for _, before, after in _occurrences(place, question))


def _in_documents(place: Place, catalog: Catalog) -> bool:
    """Whether any document's text names the place (乳山 in 威海's plan)."""
    from assistant.relevance import scope_text

    text = scope_text(catalog, None)
    return any(normalize_text(n) in text for n in (place.name, *place.aliases) if len(n) >= 2)


def _has_own_documents(place: Place, catalog: Catalog) -> bool:
    """Whether a document is issued at the place itself (not only inside it)."""
    return any(i.place is not None and i.place.code == place.code for i in catalog.infos)


def _has_documents(place: Place, catalog: Catalog) -> bool:
    gazetteer = catalog.gazetteer
    return any(i.place is not None and gazetteer.is_within(i.place, place) for i in catalog.infos)


def _by_place(question: str, catalog: Catalog) -> tuple[list[Place], set[str], str | None, list[Place]]:
    """(most specific places named, documents that apply there, what to say when none does, all places named)."""
    gazetteer = catalog.gazetteer
    if gazetteer is None:
        return [], set(), None, []
    known = [i.place for i in catalog.infos if i.place is not None]
    unquoted = re.sub(r"[“\"「『][^”\"」』]{1,30}[”\"」』]", " ", question)  # “质享山东” is a name, not a place
    asked = normalize_text(unquoted)
    places = gazetteer.find(asked, known=known)
    # a place without documents of its own, named in a phrase the documents' text holds (香港 in 香港优质
    # “正”印认证; 山东 in 山东制造 with only 威海's plan, a document inside 山东 but not of it), is what the
    # question is about, not where the asker is; so is a market named (打进香港市场, 销往上海)
    # a model compared with (类似海珠那样) beside the asker's place: its name is stripped, its documents not in scope
    models = [p for p in places if len(places) > 1 and _as_model(p, asked)]
    places = [p for p in places if p not in models and (
        _has_own_documents(p, catalog) or not (_mentioned(p, catalog, asked) or _as_market(p, asked)))]
    if not places:
        return [], set(), None, []
    # the most specific places: drop a place that is an ancestor of another one named
    specific = [p for p in places if not any(o.code != p.code and gazetteer.is_within(o, p) for o in places)]
    covering: set[str] = set()
    for place in specific:
        covering |= {i.doc_id for i in catalog.covering(place)}
    if covering:
        return specific, covering, None, places + models
    return specific, set(), _uncovered(specific, catalog), places + models


def _uncovered(places: list[Place], catalog: Catalog) -> str:
    place = places[0]
    gazetteer = catalog.gazetteer
    parent = gazetteer.places.get(place.parent) if place.parent else None
    held: list[DocInfo] = catalog.under(parent) if parent is not None else []
    held = [i for i in held if not gazetteer.is_within(place, i.place)]
    where = "、".join(p.name for p in places)
    text = f"已收录的政策文件中没有适用于{where}的文件（本地、上级或国家层面的都没有），无法据此回答。"
    if held and parent is not None:
        names = "、".join(f"{i.name()}（适用于{i.place.name}）" for i in held[:5])
        text += f"本库收录的{parent.name}文件有：{names}，{'它们' if len(held) > 1 else '它'}不适用于{where}。"
    return text


def _by_issuer(q: str, catalog: Catalog) -> tuple[set[str], list[str]]:
    """(documents named by their issuer, the issuer names as written)."""
    named: set[str] = set()
    words: list[str] = []
    national = _NATIONAL_WORDS.findall(q)
    if national:
        named |= {i.doc_id for i in catalog.infos if i.national and (i.document.issuer or "").startswith("国务院")}
        words += national
    for info in catalog.infos:
        issuer = _squeeze(info.document.issuer or "")
        for form in (issuer, issuer.replace("人民政府", "政府")):
            if len(form) >= 3 and form in q:
                named.add(info.doc_id)
                words.append(form)
                break
    return named, words
