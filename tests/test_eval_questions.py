"""Question files: typed records from JSONL, and a clear message (file, line, what) for every error."""

from __future__ import annotations

import argparse
import json

import pytest

from eval.questions_file import (
    BUNDLED_QUESTIONS, DEFAULT_DOC_ID, QUESTION_TYPES, Question, QuestionFileError, Turn, load_questions,
)

GOOD = [
    {"id": "a1", "type": "keyword", "question": "智能工厂有哪些支持？", "gold_measures": [9], "should_find": True},
    {"id": "a2", "type": "department", "question": "司法局负责方案里的哪些内容？", "gold_measures": [21, "保障措施"],
     "gold_departments": ["市司法局"], "should_find": True},
    {"id": "a3", "type": "figure", "question": "今年新增产值的目标是多少？", "gold_measures": [1],
     "expected": ["190 亿元"], "should_find": True},
    {"id": "a4", "type": "followup", "question": "这条由哪个部门负责？", "gold_measures": [9],
     "gold_departments": ["市工业和信息化局", "市农业农村局"], "should_find": True,
     "history": [{"role": "user", "content": "智能工厂有哪些支持？"}]},
    {"id": "a5", "type": "docfact", "question": "这个行动方案是哪天印发的？", "gold_measures": [],
     "expected": ["2026-05-16"], "should_find": True},
    {"id": "a6", "type": "out_of_scope", "question": "个人所得税年度汇算怎么申报？", "gold_measures": [],
     "should_find": False, "doc_id": DEFAULT_DOC_ID},
]


@pytest.fixture(scope="module")
def documents():
    from corpus.loading import load_corpus

    return load_corpus().documents


def write(tmp_path, lines, name="questions.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line, ensure_ascii=False)
                              for line in lines) + "\n", encoding="utf-8")
    return path


def error_of(path, documents=None) -> QuestionFileError:
    with pytest.raises(QuestionFileError) as caught:
        load_questions(path, documents=documents)
    return caught.value


def test_a_good_file_gives_typed_questions(tmp_path, documents):
    """Format 1 (gold_measures + doc_id) is still read, its gold resolved to (doc_id, key) pairs."""
    questions = load_questions(write(tmp_path, GOOD), documents=documents)
    assert len(questions) == 6
    first, department, figure, followup, docfact, out = questions.questions
    assert first == Question(id="a1", type="keyword", question="智能工厂有哪些支持？",
                             gold=((DEFAULT_DOC_ID, "9"),), should_find=True, doc_id=DEFAULT_DOC_ID, line=1)
    assert department.gold_departments == ("市司法局",)
    assert department.gold_keys == ((DEFAULT_DOC_ID, "21"), (DEFAULT_DOC_ID, "r22"))  # 保障措施 → its key
    assert figure.expected == ("190 亿元",) and figure.gold_departments is None
    assert followup.history == (Turn("user", "智能工厂有哪些支持？"),)
    assert followup.history_dicts() == [{"role": "user", "content": "智能工厂有哪些支持？"}]
    assert not docfact.ranked and not out.ranked and first.ranked
    assert questions.types() == ["keyword", "figure", "department", "docfact", "followup", "out_of_scope"]


FORMAT2 = [
    {"format": 2, "corpus": "../corpus", "description": "two documents"},
    {"id": "b1", "type": "ambiguous", "question": "第五条是什么？", "gold": [["x", "5"], ["y", "5"]],
     "should_find": True, "split": "test"},
    {"id": "b2", "type": "docfact", "question": "文号？", "gold": [["x", None]], "should_find": True,
     "split": "tune"},
    {"id": "b3", "type": "followup", "question": "这条由谁负责？", "gold": [["x", "2"]], "should_find": True,
     "split": "tune", "history": [{"role": "user", "content": "算力"},
                                  {"role": "assistant", "content": "第2条…", "citations": [{"doc_id": "x", "key": "2"}]}]},
]


def test_format_2_header_gold_pairs_split_and_citations_in_history(tmp_path):
    questions = load_questions(write(tmp_path, FORMAT2))
    assert questions.format == 2 and questions.corpus == (tmp_path / "../corpus").resolve()
    ambiguous, docfact, followup = questions.questions
    assert ambiguous.gold_keys == (("x", "5"), ("y", "5")) and ambiguous.set_scored and not ambiguous.ranked
    assert docfact.gold == (("x", None),) and not docfact.ranked
    assert followup.history[1].citations == (("x", "2"),)
    assert followup.history_dicts()[1]["citations"] == [{"doc_id": "x", "key": "2"}]
    assert [q.id for q in questions.part("tune")] == ["b2", "b3"]
    assert [q.id for q in questions.part("test")] == ["b1"]
    assert len(questions.part("all")) == 3


@pytest.mark.parametrize("change, problem", [
    ({"split": None}, "needs a 'split' on every question"),
    ({"split": "train"}, "split 'train' must be one of tune, test"),
    ({"gold": [["x"]]}, "each entry must be [\"doc_id\", \"key\"]"),
    ({"gold": []}, "needs at least one gold record"),
])
def test_format_2_shapes(tmp_path, change, problem):
    line = {k: v for k, v in dict(FORMAT2[1], **change).items() if v is not None}
    err = error_of(write(tmp_path, [FORMAT2[0], line]))
    assert err.line == 2 and problem in str(err), str(err)


def test_format_2_gold_is_checked_against_the_corpus(tmp_path, documents):
    header = {"format": 2}
    line = {"id": "c1", "type": "keyword", "question": "智能工厂？", "gold": [[DEFAULT_DOC_ID, "2.1"]],
            "should_find": True, "split": "test"}
    err = error_of(write(tmp_path, [header, line]), documents)
    assert "unknown record '2.1'" in str(err) and "`policyqa measures` lists every key" in str(err)


def test_blank_lines_are_skipped_and_still_counted(tmp_path):
    path = write(tmp_path, [GOOD[0], "", "   ", GOOD[1]])
    assert [q.line for q in load_questions(path)] == [1, 4]


def test_bad_json_line_names_the_line(tmp_path):
    path = write(tmp_path, [GOOD[0], "", '{"id": "a2", "type": "keyword" "question": "x"}', GOOD[2]])
    err = error_of(path)
    assert err.line == 3
    assert str(err).startswith(f"{path}, line 3: not valid JSON")
    assert "column" in str(err)


def test_unknown_measure_number_names_the_line_and_the_valid_range(tmp_path, documents):
    bad = dict(GOOD[0], id="a9", gold_measures=[9, 22])
    path = write(tmp_path, [GOOD[0], GOOD[1], bad])
    load_questions(path)  # the shape is fine: the number is checked against the corpus
    err = error_of(path, documents)
    assert err.line == 3
    message = str(err)
    assert f"{path}, line 3" in message
    assert "unknown record '22'" in message and "'a9'" in message and "1–21" in message


def test_unknown_section_title(tmp_path, documents):
    err = error_of(write(tmp_path, [dict(GOOD[1], gold_measures=["保障"])]), documents)
    assert err.line == 1 and "unknown section '保障'" in str(err) and "保障措施" in str(err)


def test_missing_field_names_the_line_and_the_field(tmp_path):
    bad = {k: v for k, v in GOOD[2].items() if k != "should_find"}
    err = error_of(write(tmp_path, [GOOD[0], bad]))
    assert err.line == 2
    assert str(err).endswith("line 2: missing required field 'should_find'")


@pytest.mark.parametrize("change, problem", [
    ({"gold_measures": "9"}, "field 'gold_measures' must be a list, found \"9\" (a string)"),
    ({"should_find": "yes"}, "field 'should_find' must be true or false"),
    ({"id": 7}, "field 'id' must be a string, found 7 (a number)"),
    ({"gold_measures": [9.5]}, "each entry must be a measure number"),
    ({"gold_measures": [True]}, "each entry must be a measure number"),
    ({"type": "keywrd"}, "unknown question type 'keywrd' (did you mean 'keyword'?)"),
    ({"gold_measure": [9]}, "unknown field 'gold_measure' (did you mean 'gold_measures'?)"),
    ({"gold_measures": None}, "missing 'gold'"),
    ({"should_find": False}, "\"should_find\": false is only for out_of_scope questions"),
    ({"gold_measures": []}, "a keyword question needs at least one gold record"),
    ({"history": [{"role": "user", "content": "x"}]}, "'history' is only for followup questions"),
    ({"question": "  "}, "field 'question' is empty"),
    ({"gold_departments": []}, "gold_departments is empty"),
])
def test_wrong_shapes_say_what_is_wrong(tmp_path, change, problem):
    err = error_of(write(tmp_path, [GOOD[1], {k: v for k, v in dict(GOOD[0], **change).items() if v is not None}]))
    assert err.line == 2
    assert problem in str(err), str(err)


def test_followup_needs_history_and_out_of_scope_needs_should_find_false(tmp_path):
    followup = {k: v for k, v in GOOD[3].items() if k != "history"}
    assert "needs a 'history'" in str(error_of(write(tmp_path, [followup])))
    bad_turn = dict(GOOD[3], history=[{"role": "bot", "content": "x"}])
    assert "history turn 1 must be" in str(error_of(write(tmp_path, [bad_turn])))
    assert "must have \"should_find\": false" in str(error_of(write(tmp_path, [dict(GOOD[5], should_find=True)])))


def test_not_an_object_and_duplicate_ids(tmp_path):
    assert "expected a JSON object" in str(error_of(write(tmp_path, ['["a1", "keyword"]'])))
    err = error_of(write(tmp_path, [GOOD[0], GOOD[1], GOOD[0]]))
    assert err.line == 3 and "duplicate id 'a1' (first used on line 1)" in str(err)


def test_corpus_checks_doc_id_departments_and_expected_strings(tmp_path, documents):
    err = error_of(write(tmp_path, [dict(GOOD[0], doc_id="no-such-doc")]), documents)
    assert "unknown doc_id 'no-such-doc'" in str(err) and DEFAULT_DOC_ID in str(err)
    err = error_of(write(tmp_path, [dict(GOOD[1], gold_departments=["工信局"])]), documents)
    assert "unknown department '工信局'" in str(err) and "市工业和信息化局" in str(err)
    err = error_of(write(tmp_path, [dict(GOOD[0], doc_id=DEFAULT_DOC_ID, gold_measures=["保障"])]), documents)
    assert "unknown section '保障'" in str(err)
    err = error_of(write(tmp_path, [GOOD[0], dict(GOOD[2], expected=["191 亿元"])]), documents)
    assert err.line == 2 and "expected string '191 亿元' does not occur" in str(err)
    # the issue date is given in ISO form and accepted as the document's date
    assert len(load_questions(write(tmp_path, [GOOD[4]]), documents=documents)) == 1


def test_file_level_errors(tmp_path):
    missing = tmp_path / "nope.jsonl"
    assert "no such file" in str(error_of(missing)) and str(missing) in str(error_of(missing))
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert "holds no questions" in str(error_of(empty))
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(GOOD[0]).encode() + b"\n" + '{"id": "é"}'.encode("latin-1") + b"\n")
    err = error_of(latin)
    assert err.line == 2 and "not UTF-8" in str(err)


def test_the_bundled_question_file_validates_against_the_corpus(documents):
    questions = load_questions(BUNDLED_QUESTIONS, documents=documents)
    assert len(questions) == 238
    seed_types = ["keyword", "paraphrase", "figure", "department", "multi", "list", "docfact", "followup",
                  "out_of_scope"]
    assert questions.types() == seed_types and set(seed_types) <= set(QUESTION_TYPES)
    assert questions.format == 2 and {q.split for q in questions} == {"tune", "test"}
    assert len(questions.part("test")) >= 80
    assert len({q.id for q in questions}) == len(questions)


def test_the_bundled_file_also_validates_against_the_api_records(documents):
    """`policyqa eval` checks against the assistant's public records (DocumentOut)."""
    from assistant.service import document_out

    assert len(load_questions(BUNDLED_QUESTIONS, documents=[document_out(d) for d in documents])) == 238


def test_eval_main_reports_a_bad_file_with_its_line_and_exit_status_2(tmp_path, capsys):
    from eval.run import main

    path = write(tmp_path, [GOOD[0], '{"id": "x",'])
    args = argparse.Namespace(questions=str(path), retriever="hybrid", k=5, out=str(tmp_path / "out"), corpus=None)
    assert main(args) == 2  # before any index is built
    err = capsys.readouterr().err
    assert f"error: {path}, line 2: not valid JSON" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", sorted(p.name for p in BUNDLED_QUESTIONS.parent.glob("*.jsonl")))
def test_every_question_file_validates_against_the_corpus_its_header_names(name):
    from corpus.loading import load_corpus

    path = BUNDLED_QUESTIONS.parent / name
    header = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    folder = (path.parent / header["corpus"]).resolve()
    questions = load_questions(path, documents=load_corpus(folder).documents)
    assert len(questions) > 0 and questions.format == 2
    assert {q.split for q in questions} <= {"tune", "test"}
    assert len({q.id for q in questions}) == len(questions)
