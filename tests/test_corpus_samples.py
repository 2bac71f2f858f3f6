"""The parser against hand-written gold: the 12 real samples and the hand-made shape fixtures.

The gold (tests/fixtures/samples/*.gold.json, tests/fixtures/shapes/**/*.gold.json) was written
from the documents' text by people who did not read the parser; its conventions are in
tests/fixtures/samples/README.md. ``python -m tests.gold`` prints every difference.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.parsing import parse_document
from tests.gold import compare, gold_cases, squeeze

CASES = gold_cases()
IDS = [case.name for case in CASES]


def test_every_sample_has_gold():
    names = {case.text_path.name for case in CASES}
    from tests.gold import SAMPLES
    # the seed is linked into corpus/samples (the multi-document corpus); its gold is tests/test_corpus_seed.py
    assert {p.name for p in SAMPLES.glob("*.txt") if not p.is_symlink()} <= names


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_measure_count_and_structure(case):
    result = compare(case)
    assert result.measure_count[0] == result.measure_count[1], "measure count"
    assert result.structure_errors == []  # number, label, key, title and path of every measure


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_document_facts(case):
    assert compare(case).fact_errors == []  # title, 文号, issuer, issued_on, effective_on, expires_on


def test_departments_exact_with_roles_for_95_percent_of_measures():
    results = [compare(case) for case in CASES]
    stated = sum(r.with_departments for r in results)
    exact = sum(r.departments_exact for r in results)
    errors = [f"{r.name} {e}" for r in results for e in r.department_errors]
    assert stated >= 140
    assert exact / stated >= 0.95, errors
    # and no department invented for a measure whose gold states none
    assert not [e for e in errors if e.endswith("want none")]


def test_figures_typed_in_the_right_measure():
    results = [compare(case) for case in CASES]
    total = sum(r.figures for r in results)
    found = sum(r.figures_found for r in results)
    assert total >= 150
    assert found / total >= 0.95, [f"{r.name} {e}" for r in results for e in r.figure_errors]


@pytest.mark.parametrize("case", [c for c in CASES if c.gold.get("problem_contains")],
                         ids=[c.name for c in CASES if c.gold.get("problem_contains")])
def test_bad_shapes_name_one_problem_and_load_the_rest(case):
    document = case.parse()
    assert any(case.gold["problem_contains"] in p for p in document.problems), document.problems
    assert len([m for m in document.measures if m.kind == "measure"]) == case.gold["measure_count"]


def assert_blocks_cover(document) -> None:
    """The records' spans cover the text: no gap but whitespace, no overlap."""
    position = 0
    for start, end, kind in document.blocks():
        assert start >= position, f"{kind} at {start} overlaps the block before (ends {position})"
        assert document.text[position:start].strip() == "", f"gap before {kind}: {document.text[position:start]!r}"
        position = end
    assert document.text[position:].strip() == ""


def assert_sentences_tile(document) -> None:
    position = 0
    for sentence in document.sentences():
        assert sentence.start >= position
        assert document.text[position:sentence.start].strip() == ""
        assert squeeze(document.text[sentence.start:sentence.end]) == squeeze(sentence.text)
        position = sentence.end
    assert document.text[position:].strip() == ""


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_nothing_lost(case):
    document = case.parse()
    assert_blocks_cover(document)
    assert_sentences_tile(document)
    for measure in document.measures:
        for figure in measure.targets:
            assert document.text[figure.start:figure.end] == figure.text


def test_labels_are_never_figures():
    text = "一、总则\n第 1 7 条 依照第十一条规定，按第 2 0 条执行，给予最高50万元奖励。\n"
    figures = [t.text for m in parse_document(text, "x").measures for t in m.targets]
    assert figures == ["最高50万元"]


SAMPLE_LINES = [line for case in CASES for line in case.text_path.read_text(encoding="utf-8").splitlines()
                if line.strip()][::7]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE_LINES), min_size=1, max_size=25))
def test_any_mix_of_real_lines_parses_and_loses_nothing(lines):
    """Real lines in random order (numbering out of sequence, markers without measures…)."""
    document = parse_document("\n".join(lines), "mix")
    assert_blocks_cover(document)
    assert_sentences_tile(document)


def test_a_line_above_the_notice_is_kept_in_the_preamble():
    # found by the test above: another document's title line above a 关于印发…的通知 line fell between blocks
    text = "北京市促进中小企业发展条例\n郑州市人民政府办公厅关于印发郑州市加快数字经济发展若干措施的通知\n2026年3月2日"
    document = parse_document(text, "mix")
    assert_blocks_cover(document)
    assert_sentences_tile(document)
