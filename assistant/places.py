"""China's administrative divisions (province > city > county/district), from jionlp's gazetteer.

Used to scope a question to the documents that apply to the place it names: a State Council
document applies everywhere, a provincial one to every city and district of its province, a
city's to its districts. The three upper levels of ``jionlp``'s china_location dictionary
(34 provinces, ~340 cities, ~3,000 counties and districts, with short names such as 罗湖 for
罗湖区) are read once and cached as JSON in the data folder, since importing jionlp takes a
few seconds. Words that are place names only by accident (城区, 新区, 开发区…) are listed in
``assistant/data/place_stopwords.txt``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
_LEVELS = ("province", "city", "county")
# jionlp's own placeholders for cities directly under a province or a municipality
_PLACEHOLDERS = ("省直辖行政区划", "自治区直辖县级行政区划", "县", "市辖区")
# jionlp also lists development zones as counties (包头稀土高新技术产业开发区); they are not divisions
_NOT_DIVISIONS = re.compile(r"开发区|产业园|保税区|示范区|工业园|高新技术|经济技术|综合改革|管理区|管委会|试验区|实验区")


@dataclass(frozen=True)
class Place:
    code: str  # the national administrative code, e.g. 440303
    name: str  # full name: 广东省, 深圳市, 罗湖区
    level: str  # province | city | county
    parent: str | None  # the code of the level above
    aliases: tuple[str, ...]  # short names: 广东, 深圳, 罗湖


class Gazetteer:
    """Places by code, name and alias; mentions in a text; the chain of levels above a place."""

    def __init__(self, places: list[Place], stopwords: frozenset[str] = frozenset()):
        self.places = {p.code: p for p in places}
        self.by_name: dict[str, list[Place]] = {}
        for place in places:
            for name in (place.name, *place.aliases):
                if len(name) >= 2 and name not in stopwords:
                    self.by_name.setdefault(name, []).append(place)
        self.stopwords = stopwords

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        names = sorted(self.by_name, key=len, reverse=True)
        return re.compile("|".join(re.escape(n) for n in names))

    def chain(self, place: Place) -> list[Place]:
        """The place and every level above it, from the province down.

        jionlp lists a few places as their own parent (香港 810000, 东莞 441900: a city without
        counties repeated as its own county); the walk stops at a place already seen.
        """
        out = [place]
        seen = {place.code}
        while out[0].parent and out[0].parent in self.places and out[0].parent not in seen:
            seen.add(out[0].parent)
            out.insert(0, self.places[out[0].parent])
        return out

    def is_within(self, place: Place, ancestor: Place) -> bool:
        return any(p.code == ancestor.code for p in self.chain(place))

    def find(self, text: str, known: list[Place] = ()) -> list[Place]:
        """The places ``text`` names, one per mention, each narrowed by the others.

        深圳南山区 → [深圳市, 南山区 (of 深圳)]. A county's short name without 区/县/市 (罗湖, 合作,
        会同 — many are ordinary words) counts only for a ``known`` place (the documents'), right
        after its city (深圳南山), or inside a known place (or the city of a known county) when it is rarely an
        ordinary word (昆山, 常熟 with a 苏州, 江苏 or 太仓 document loaded; not 光明, 朝阳: ``ordinary_word``). A name shared by
        several places keeps the one inside another mentioned place, else one of the ``known``
        places, else all of them.
        """
        found = list(self._pattern.finditer(text))
        boundaries = word_boundaries(text) if found else set()  # jieba only when a name is there at all
        # a name inside a longer word is not a place: 朝阳产业, 中山大学, 长安汽车 (jieba's words); one that a
        # word for a place goes on (台湾地区, 上海人, 威海本地) still is
        mentions = [(m.group(0), list(self.by_name[m.group(0)])) for m in found
                    if m.start() in boundaries and (m.end() in boundaries or _place_word_after(text, m.end(), boundaries))]
        known_codes = {p.code for p in known}
        # a county's short name also counts beside a known county of the same city (昆山 with 太仓's document:
        # both in 苏州), so that a question about it is scoped, and refused where no document applies
        near = list(known) + [self.places[k.parent] for k in known
                              if k.level == "county" and k.parent in self.places]
        chosen: list[Place] = []
        for i, (written, candidates) in enumerate(mentions):
            previous = mentions[i - 1][1] if i else []
            kept = []
            for place in candidates:
                if place.level == "county" and written != place.name:
                    right_after_parent = any(p.code == place.parent for p in previous)
                    inside_known = any(self.is_within(place, k) for k in near) and not ordinary_word(written)
                    if place.code not in known_codes and not right_after_parent and not inside_known:
                        continue
                kept.append(place)
            if len(kept) > 1:
                context = [p for w, cs in mentions if w != written for p in cs]
                inside = [c for c in kept if any(self.is_within(c, o) for o in context if o.code != c.code)]
                kept = inside or [c for c in kept if c.code in known_codes] or kept
            chosen.extend(c for c in kept if c not in chosen)
        return chosen

    def resolve(self, text: str | None) -> Place | None:
        """The most specific place a document's place string names: 广州市海珠区 → 海珠区 of 广州市."""
        if not text:
            return None
        places = self.find(text, known=[p for ps in self.by_name.values() for p in ps if p.name in text])
        if not places:
            return None
        depth = {"province": 0, "city": 1, "county": 2}
        return max(places, key=lambda p: depth[p.level])


_LOCK = threading.Lock()
_GAZETTEER: Gazetteer | None = None


# A county's short name that jieba's dictionary counts this often or more is read as an ordinary word
# (光明 1219, 朝阳 767, 天河 655, 白云 389, 南山 310) unless written in full; 昆山 148, 常熟 146, 江阴 210,
# 黄岛 135, 荣成 26 are place names. Frequencies of jieba's bundled dict.txt.
ORDINARY_WORD_FREQ = 300


PLACE_TAILS = ("地区", "地方", "境内", "本地", "当地", "全省", "全市", "籍", "人", "省", "市", "区", "县")


def _place_word_after(text: str, end: int, boundaries: set[int]) -> bool:
    """Whether the word that a place name begins ends in a word for a place (台湾|地区, 上海|人)."""
    word_end = min((b for b in boundaries if b > end), default=len(text))
    return text[end:word_end] in PLACE_TAILS


def word_boundaries(text: str) -> set[int]:
    """The offsets in ``text`` where one of jieba's words starts or ends (0 and len(text) included)."""
    from corpus.jieba_words import default_jieba

    offsets, at = {0}, 0
    for word in default_jieba().cut(text):
        at += len(word)
        offsets.add(at)
    return offsets


def ordinary_word(name: str) -> bool:
    """Whether ``name`` is, in jieba's dictionary, at least ``ORDINARY_WORD_FREQ`` times a word."""
    from corpus.jieba_words import default_jieba

    tokenizer = default_jieba()
    tokenizer.check_initialized()
    return (tokenizer.FREQ.get(name) or 0) >= ORDINARY_WORD_FREQ


def gazetteer(cache_dir: Path | None = None) -> Gazetteer:
    """The gazetteer, read once per process (from the JSON cache when there is one)."""
    global _GAZETTEER
    with _LOCK:
        if _GAZETTEER is None:
            places = _load(cache_dir)
            stop = frozenset(w for w in (DATA / "place_stopwords.txt").read_text(encoding="utf-8").split()
                             if not w.startswith("#"))
            _GAZETTEER = Gazetteer(places, stop)
        return _GAZETTEER


def _load(cache_dir: Path | None) -> list[Place]:
    from importlib.metadata import version

    jionlp_version = version("jionlp")
    cache = (cache_dir / f"places-v3-jionlp-{jionlp_version}.json") if cache_dir else None
    if cache is not None and cache.is_file():
        try:
            rows = json.loads(cache.read_text(encoding="utf-8"))
            return [Place(r[0], r[1], r[2], r[3], tuple(r[4])) for r in rows]
        except (OSError, ValueError, IndexError, TypeError):
            pass  # rebuilt below
    places = _from_jionlp()
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(".tmp")
            tmp.write_text(json.dumps([[p.code, p.name, p.level, p.parent, list(p.aliases)] for p in places],
                                      ensure_ascii=False), encoding="utf-8")
            tmp.replace(cache)
        except OSError:
            pass  # a read-only data folder: read jionlp again next time
    return places


def _aliases(node: dict) -> tuple[str, ...]:
    alias = node.get("_alias") or ()
    return tuple([alias] if isinstance(alias, str) else alias)


def _from_jionlp() -> list[Place]:
    with contextlib.redirect_stdout(io.StringIO()):  # jionlp prints a banner when imported
        from jionlp.dictionary.dictionary_loader import china_location_loader
        tree = china_location_loader(detail=False)
    places: list[Place] = []
    for province_name, province in tree.items():
        p_code = str(province["_admin_code"])
        places.append(Place(p_code, province_name, "province", None, _aliases(province)))
        for city_name, city in province.items():
            if city_name.startswith("_"):
                continue
            c_code = str(city["_admin_code"])
            city_is_real = city_name not in _PLACEHOLDERS and city_name != province_name and c_code != p_code
            if city_is_real:
                places.append(Place(c_code, city_name, "city", p_code, _aliases(city)))
            for county_name, county in city.items():
                if county_name.startswith("_") or not isinstance(county, dict) or _NOT_DIVISIONS.search(county_name):
                    continue
                parent = c_code if city_is_real else p_code
                code = str(county["_admin_code"])
                if code in (parent, c_code, p_code):
                    continue  # a city repeated as its own county (东莞市 under 东莞市)
                places.append(Place(code, county_name, "county", parent, _aliases(county)))
    return places


class LatinPlaces:
    """The places of ``places`` by their pinyin, for English questions: built once (per corpus), then
    ``find`` costs a few dictionary look-ups per question (consecutive words joined: Tai an, Taian, Tai'an)."""

    MAX_WORDS = 4  # syllables a place's short name spans, written apart (Zhang jia gang)

    def __init__(self, places, preferred: frozenset[str] = frozenset()):
        """``preferred``: codes of places that win over others written the same in pinyin (Suzhou is 苏州
        rather than 宿州 when a 苏州 or 江苏 document is loaded)."""
        self.preferred = preferred
        self.codes: list[str] = [p.code for p in places]
        self.by_latin: dict[str, list[tuple[int, str]]] = {}
        for order, place in enumerate(places):
            for name in sorted({place.name, *place.aliases}, key=len):
                if len(name) < 2 or not re.fullmatch(r"[\u4e00-\u9fff]+", name):
                    continue
                latin = "".join(_pinyin(name))
                self.by_latin.setdefault(latin, []).append((order, name))

    def find(self, question: str) -> list[str]:
        words = re.findall(r"[a-z]+", re.sub(r"['’\-]", "", question.lower()))
        found: dict[int, str] = {}
        for i in range(len(words)):
            for j in range(i + 1, min(i + self.MAX_WORDS, len(words)) + 1):
                same = self.by_latin.get("".join(words[i:j]), ())
                if any(self.codes[order] in self.preferred for order, _ in same):
                    same = [(order, name) for order, name in same if self.codes[order] in self.preferred]
                for order, name in same:
                    if order not in found or len(name) < len(found[order]):
                        found[order] = name
        return [found[order] for order in sorted(found)]


def latin_place_names(question: str, places) -> list[str]:
    """The places of ``places`` that an English question names in pinyin: Qingdao, Tai'an, Haizhu District
    → 青岛, 泰安, 海珠. Matched as whole words on the short names (pinyin without tones, syllables joined;
    apostrophes, hyphens and spaces between syllables ignored). Returns their Chinese short names, the
    ones ``assistant.scope.resolve`` reads. Korean names (칭다오) are not read. For many questions over
    one set of places, build a ``LatinPlaces`` once.
    """
    return LatinPlaces(places).find(question)


@lru_cache(maxsize=4096)
def _pinyin(name: str) -> tuple[str, ...]:
    """青岛 → ("qing", "dao"): each place name is read once per process."""
    from pypinyin import lazy_pinyin

    return tuple(lazy_pinyin(name))
