"""A realistic many-document corpus: the 13 real documents, then variants of them, as local copies would be.

``generate(folder, 100)`` writes the 12 real policy documents of ``corpus/samples`` and the seed
(``corpus/documents``) unchanged, then variants of them up to 100: each variant moves its source to another
place of the same kind (a city of the same province, a district of the same city, a province for a State
Council document, a Taiwanese county for an 經濟部 regulation), shifts its years, issues it under another
文号, scales its amounts, words some verbs differently (支持 → 扶持, 加快 → 加速, …), swaps the bodies of
two numbered items and drops a sentence or two, so that no two documents share their text and most of
their sentences differ, as the texts of local governments that copy each other's measures do.

Document ``i`` depends only on ``i`` and the seed, so ``write_document(folder, 100)`` adds the 101st
document to a corpus of 100 (the bench checks that the rebuild then embeds only it).

``python -m eval.corpus100 FOLDER [--n 100] [--seed 100]``
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FOLDERS = (ROOT / "corpus" / "samples", ROOT / "corpus" / "documents")

# Where a source's place may move to: places of the same kind, so the text stays plausible.
SHANDONG = ("烟台", "潍坊", "济宁", "临沂", "德州", "聊城", "滨州", "菏泽", "日照", "淄博", "枣庄", "东营")
PLACES: dict[str, tuple[str, ...]] = {
    "威海": SHANDONG,
    "泰安": SHANDONG,
    "武汉": ("宜昌", "襄阳", "荆州", "黄石", "十堰", "孝感", "荆门", "鄂州", "随州", "咸宁"),
    "太仓": ("昆山", "常熟", "张家港", "江阴", "宜兴", "溧阳", "丹阳", "海门"),
    "海珠": ("天河", "越秀", "荔湾", "白云", "黄埔", "番禺", "花都", "南沙"),
    "北京": ("天津", "上海", "重庆", "深圳", "厦门", "宁波", "青岛", "大连"),
}
# A State Council text becomes a province's own implementing text: (province, the 文号's abbreviation).
PROVINCES = (("山东省", "鲁"), ("江苏省", "苏"), ("浙江省", "浙"), ("河南省", "豫"), ("湖北省", "鄂"),
             ("湖南省", "湘"), ("安徽省", "皖"), ("福建省", "闽"), ("江西省", "赣"), ("四川省", "川"),
             ("河北省", "冀"), ("广东省", "粤"))
TAIWAN_ISSUERS = ("臺北市政府", "新北市政府", "桃園市政府", "臺中市政府", "臺南市政府", "高雄市政府", "新竹縣政府",
                  "彰化縣政府")
# Words that local texts word differently (simplified, then traditional for the Taiwanese texts); none occurs
# in a department's name or a structural marker.
REWORDINGS = (("支持", "扶持"), ("加快", "加速"), ("推动", "推进"), ("强化", "加强"), ("提升", "提高"),
              ("鼓励", "引导"), ("完善", "健全"), ("积极", "大力"), ("开展", "实施"), ("引进", "引入"),
              ("优化", "改进"), ("推動", "推進"), ("鼓勵", "引導"), ("輔導", "指導"), ("補助", "資助"),
              ("協助", "幫助"))
AMOUNT_FACTORS = (0.5, 0.8, 1.2, 1.5, 2.0)

_YEAR = re.compile(r"(?<![\d.])(20[0-3]\d)(?!\d|\s*(?:万|亿|萬|億|元|个|個|人|家|户|%|％|亩|平方))")  # not 2000万元
LATEST_YEAR = 2026  # the sources' latest issue year: a variant is never issued after it
_DOC_NUMBER = re.compile(r"〔(\d{4})〕(\s*)(\d+)(\s*)号")
_AMOUNT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(\s*)(万元|亿元|萬元|億元)")
_NUMBERED = re.compile(r"^(\s*(?:\d{1,2}[.．、]|（[一二三四五六七八九十]{1,3}）))(.+)$")
_SENTENCE = re.compile(r"[^。！？]*[。！？]")
_KEEP = ("责任", "牵头", "负责", "：", ":", "（", "第")  # sentences with these carry structure: never dropped


@dataclass(frozen=True)
class Source:
    name: str  # file stem
    text: str
    place: str | None  # the key of PLACES it mentions, if any
    kind: str  # "place", "national" (国务院), "taiwan" (經濟部)


@dataclass(frozen=True)
class GeneratedDocument:
    path: Path
    source: str
    changes: str  # what was changed, for the bench's listing


def load_sources(folders: tuple[Path, ...] = SOURCE_FOLDERS) -> list[Source]:
    """The real documents (.txt), each once (the seed is in both folders), in a fixed order."""
    seen: set[str] = set()
    sources = []
    for folder in folders:
        for path in sorted(folder.glob("*.txt")):
            text = path.read_text(encoding="utf-8")
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            head = text[:400]
            place = next((p for p in PLACES if p in head), None)
            kind = "place" if place else "national" if "国务院" in head else "taiwan" if "經濟部" in head else "other"
            sources.append(Source(path.stem, text, place, kind))
    if not sources:
        raise SystemExit(f"corpus100: no .txt documents in {', '.join(map(str, folders))}")
    return sources


def _scaled(match: re.Match, factor: float) -> str:
    value = float(match.group(1)) * factor
    shown = f"{max(1, round(value))}" if "." not in match.group(1) else f"{value:.1f}"
    return shown + match.group(2) + match.group(3)


def _swap_numbered(lines: list[str], rng: random.Random, swaps: int) -> int:
    """Swap the bodies of ``swaps`` pairs of adjacent numbered lines of the same numbering style (the
    labels stay in order, so the numbering stays whole). Returns how many were swapped."""
    candidates = []
    for i in range(len(lines) - 1):
        a, b = _NUMBERED.match(lines[i]), _NUMBERED.match(lines[i + 1])
        if a and b and (a.group(1).strip()[0] == "（") == (b.group(1).strip()[0] == "（"):
            candidates.append(i)
    done = 0
    for i in rng.sample(candidates, min(swaps, len(candidates))):
        a, b = _NUMBERED.match(lines[i]), _NUMBERED.match(lines[i + 1])
        if a and b:  # an earlier swap may have touched the pair: still numbered either way
            lines[i], lines[i + 1] = a.group(1) + b.group(2), b.group(1) + a.group(2)
            done += 1
    return done


def _drop_sentences(lines: list[str], rng: random.Random, drops: int) -> int:
    """Drop ``drops`` sentences from lines of three or more, never one that carries structure."""
    candidates = [i for i, line in enumerate(lines) if len(_SENTENCE.findall(line)) >= 3]
    done = 0
    for i in rng.sample(candidates, min(drops, len(candidates))):
        sentences = _SENTENCE.findall(lines[i])
        plain = [s for s in sentences[1:] if not any(k in s for k in _KEEP)]
        if plain:
            lines[i] = lines[i].replace(rng.choice(plain), "", 1)
            done += 1
    return done


def variant(source: Source, copy: int, rng: random.Random) -> tuple[str, str, list[str]]:
    """(file stem, text, changes) of the ``copy``-th variant of ``source`` (copy >= 1)."""
    text = source.text
    changes = []
    stem = source.name
    if source.kind == "place":
        places = PLACES[source.place]
        new = places[(copy - 1) % len(places)]
        text = text.replace(source.place, new)
        if source.place[0] + "政" in text:  # 威政办字 → 烟政办字
            text = text.replace(source.place[0] + "政", new[0] + "政")
        changes.append(f"{source.place}→{new}")
        stem = f"{new}-{stem}"
    elif source.kind == "national":
        province, abbreviation = PROVINCES[(copy - 1) % len(PROVINCES)]
        text = (text.replace("国务院办公厅", province + "人民政府办公厅").replace("国务院", province + "人民政府")
                .replace("国办发〔", abbreviation + "政办发〔").replace("国发〔", abbreviation + "政发〔"))
        changes.append(f"国务院→{province}")
        stem = f"{abbreviation}-{stem}"
    elif source.kind == "taiwan":
        issuer = TAIWAN_ISSUERS[(copy - 1) % len(TAIWAN_ISSUERS)]
        text = text.replace("經濟部", issuer)
        changes.append(f"經濟部→{issuer}")
        stem = f"{issuer[:3]}-{stem}"
    issued = max((int(y) for y in _YEAR.findall("\n".join(source.text.splitlines()[:15]))), default=LATEST_YEAR)
    shift = rng.choice([s for s in (-3, -2, -1, 1, 2, 3) if issued + s <= LATEST_YEAR])
    text = _YEAR.sub(lambda m: str(int(m.group(1)) + shift), text)
    changes.append(f"years {shift:+d}")
    text = _DOC_NUMBER.sub(lambda m: f"〔{m.group(1)}〕{m.group(2)}{rng.randint(1, 80)}{m.group(4)}号", text)
    factor = rng.choice(AMOUNT_FACTORS)
    text, amounts = _AMOUNT.subn(lambda m: _scaled(m, factor), text)
    if amounts:
        changes.append(f"{amounts} amounts x{factor}")
    chosen = [pair for pair in REWORDINGS if rng.random() < 0.6]
    for old, new in chosen:
        text = text.replace(old, new)
    if chosen:
        changes.append(f"{len(chosen)} rewordings")
    lines = text.split("\n")
    swapped = _swap_numbered(lines, rng, rng.randint(1, 3))
    dropped = _drop_sentences(lines, rng, rng.randint(1, 3))
    text = "\n".join(lines)
    changes.append(f"{swapped} items swapped, {dropped} sentences dropped")
    return stem, text, changes


def document(i: int, sources: list[Source], seed: int = 100) -> tuple[str, str, str, str]:
    """(file name, text, source name, changes) of document ``i``: the sources themselves first, then variants."""
    source = sources[i % len(sources)]
    copy = i // len(sources)
    if copy == 0:
        return f"{i:03d}-{source.name}.txt", source.text, source.name, "the real document"
    stem, text, changes = variant(source, copy, random.Random(seed * 1_000_003 + i))
    return f"{i:03d}-{stem}.txt", text, source.name, ", ".join(changes)


def write_document(folder: Path, i: int, sources: list[Source] | None = None, seed: int = 100) -> GeneratedDocument:
    name, text, source, changes = document(i, sources or load_sources(), seed)
    path = Path(folder) / name
    path.write_text(text, encoding="utf-8")
    return GeneratedDocument(path, source, changes)


def generate(folder: Path, n: int = 100, seed: int = 100, sources: list[Source] | None = None) -> list[GeneratedDocument]:
    """Write documents 0 … n-1 into ``folder`` (created if missing)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sources = sources or load_sources()
    return [write_document(folder, i, sources, seed) for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="where to write the documents (created if missing)")
    parser.add_argument("--n", type=int, default=100, help="documents (default 100)")
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args(argv)
    written = generate(Path(args.folder), args.n, args.seed)
    chars = sum(len(d.path.read_text(encoding="utf-8")) for d in written)
    print(f"{len(written)} documents, {chars:,} characters → {args.folder}")
    for d in written:
        print(f"  {d.path.name}: {d.changes}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
