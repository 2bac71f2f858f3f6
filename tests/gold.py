"""Compare parsed documents with the hand-written gold in tests/fixtures (see its README).

Used by tests/test_corpus_samples.py; run it directly to see every difference:
``.venv/bin/python -m tests.gold``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from corpus.loading import load_corpus
from corpus.reading import read_text
from corpus.parsing import parse_document

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "corpus" / "samples"
GOLD_SAMPLES = ROOT / "tests" / "fixtures" / "samples"
SHAPES = ROOT / "tests" / "fixtures" / "shapes"


def squeeze(text: str | None) -> str:
    return re.sub(r"[\s\u3000\u00a0]+", "", text or "").rstrip("。")


@dataclass
class GoldCase:
    name: str
    text_path: Path
    gold: dict

    def parse(self):
        return parse_document(read_text(self.text_path).text, doc_id=self.text_path.stem,
                              source=self.text_path.name)


def gold_cases() -> list[GoldCase]:
    cases = []
    for gold_path in sorted(GOLD_SAMPLES.glob("*.gold.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        cases.append(GoldCase(gold_path.name.removesuffix(".gold.json"), SAMPLES / gold["file"], gold))
    for gold_path in sorted(SHAPES.rglob("*.gold.json")):
        gold = json.loads(gold_path.read_text(encoding="utf-8"))
        cases.append(GoldCase("shapes/" + gold_path.name.removesuffix(".gold.json"),
                              gold_path.with_name(gold["file"].split("/")[-1]), gold))
    return cases


@dataclass
class Comparison:
    name: str
    measure_count: tuple[int, int]
    structure_errors: list[str] = field(default_factory=list)  # number, label, key, title, path
    with_departments: int = 0
    departments_exact: int = 0
    department_errors: list[str] = field(default_factory=list)
    figures: int = 0
    figures_found: int = 0
    figure_errors: list[str] = field(default_factory=list)
    fact_errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def compare(case: GoldCase) -> Comparison:
    document = case.parse()
    gold = case.gold
    measures = [m for m in document.measures if m.kind == "measure"]
    result = Comparison(case.name, (len(measures), gold["measure_count"]), problems=list(document.problems))
    by_key = {m.key: m for m in measures}
    for g in gold["measures"]:
        m = by_key.get(str(g["key"]))
        if m is None:
            m = next((x for x in measures if x.number == g["number"] and squeeze(x.label) == squeeze(g["label"])
                      and [squeeze(p) for p in x.path] == [squeeze(p) for p in g["path"]]), None)
            result.structure_errors.append(f"key {g['key']}: missing" + (f" (found as {m.key})" if m else ""))
            if m is None:
                continue
        for name, got, want in (("number", m.number, g["number"]), ("label", squeeze(m.label), squeeze(g["label"])),
                                ("title", squeeze(m.title), squeeze(g["title"])),
                                ("path", [squeeze(p) for p in m.path], [squeeze(p) for p in g["path"]])):
            if got != want:
                result.structure_errors.append(f"key {g['key']} {name}: got {got!r}, want {want!r}")
        if g.get("departments"):
            result.with_departments += 1
            got = [(r.name, r.role) for r in m.roles]
            want = [(d["name"], d["role"]) for d in g["departments"]]
            if got == want:
                result.departments_exact += 1
            else:
                result.department_errors.append(f"key {g['key']}: got {got}, want {want}")
        elif m.roles:
            result.department_errors.append(f"key {g['key']}: got {[(r.name, r.role) for r in m.roles]}, want none")
        for f in g.get("figures", []):
            result.figures += 1
            text = squeeze(f["text"])
            hit = [t for t in m.targets if squeeze(t.text) in text or text in squeeze(t.text)]
            ok = [t for t in hit if t.kind == f["kind"] and abs(t.value - float(f["value"])) < 1e-6
                  and squeeze(t.unit) == squeeze(f["unit"])]
            if ok:
                result.figures_found += 1
            else:
                result.figure_errors.append(f"key {g['key']} {f['text']} ({f['kind']} {f['value']} {f['unit']}): got "
                                            f"{[(t.text, t.kind, t.value, t.unit) for t in hit] or 'nothing'}")
    doc = gold.get("doc", {})
    for name in ("title", "doc_number", "issuer", "issued_on", "effective_on", "expires_on"):
        if name in doc:
            got = getattr(document, name)
            if squeeze(got) != squeeze(doc[name]):
                result.fact_errors.append(f"{name}: got {got!r}, want {doc[name]!r}")
    return result


def main() -> None:
    totals = [0, 0]
    for case in gold_cases():
        r = compare(case)
        totals[0] += r.departments_exact
        totals[1] += r.with_departments
        print(f"== {r.name}: measures {r.measure_count[0]}/{r.measure_count[1]}, departments "
              f"{r.departments_exact}/{r.with_departments}, figures {r.figures_found}/{r.figures}")
        for line in r.structure_errors + r.department_errors + r.figure_errors + r.fact_errors:
            print("   ", line)
        if case.gold.get("problem_contains"):
            print("    problems:", r.problems)
    print(f"departments exact: {totals[0]}/{totals[1]}")


if __name__ == "__main__":
    main()
