"""The `policyqa` command, run in-process against the session's data folder."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.cli import main


def test_measures_json_is_the_api_body(capsys, settings, assistant):
    assert main(["measures", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    with TestClient(create_app(settings, assistant=assistant, with_ui=False)) as client:
        assert printed == client.get("/api/measures").json()


def test_measures_listing(capsys):
    assert main(["measures"]) == 0
    out = capsys.readouterr().out
    assert "威政办字〔2026〕10号" in out
    assert " 13. 强化产供衔接  ——  市工业和信息化局、市交通运输局、市商务局、威海海关" in out
    assert "保障措施" in out


def test_ask_json(capsys, assistant):
    assert main(["ask", "第9条讲什么", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["intent"] == "measure"
    assert body["citations"][0]["measure_number"] == 9


def test_ask_text_shows_sources(capsys, assistant):
    assert main(["ask", "贷款难怎么办？"]) == 0
    out = capsys.readouterr().out
    assert "第14条「强化金融助力」" in out
    assert "出处：" in out
    # each source names its document with its 文号, the measure once
    assert "（威政办字〔2026〕10号）第14条「强化金融助力」 责任单位：" in out.split("出处：")[1]


def test_search(capsys, assistant):
    assert main(["search", "智能工厂", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. 第9条「加力推进智改数转网联」 score")
    assert main(["search", "智能工厂", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["measure_number"] == 9


def test_index_builds_a_new_version(capsys, assistant, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path))
    assert main(["index"]) == 0
    out = capsys.readouterr().out
    assert "1 document(s), 22 measures" in out and "flat FAISS" in out
    # a cold build: every core encodes, and the line says how fast
    from index.embedders import available_cores

    assert f"on {available_cores()} core(s), " in out and "characters/s" in out


def test_index_uses_every_core_and_builds_beside_the_encoder(monkeypatch, tmp_path, capsys):
    import index.building
    import index.embedders

    seen = {}
    real_make, real_build = index.embedders.make_embedder, index.building.build_index

    def make(spec=None, **options):
        seen["make"] = options
        return real_make(spec, **options)

    def build(*args, **options):
        seen["parallel"] = options.get("parallel")
        return real_build(*args, **options)

    monkeypatch.setattr(index.embedders, "make_embedder", make)
    monkeypatch.setattr(index.building, "build_index", build)
    monkeypatch.setattr(index.embedders, "available_cores", lambda: 3)
    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "small.txt").write_text("小企业扶持办法\n一、资金支持\n1. 设立专项资金。支持技术改造。（市财政局负责）\n",
                                      encoding="utf-8")
    assert main(["index", "--corpus", str(corpus)]) == 0
    assert seen == {"make": {"passage_threads": 3}, "parallel": True}
    assert "on 3 core(s)" in capsys.readouterr().out


def test_bench_help_names_the_corpus100_option(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
    assert "--corpus100" in out and "0 leaves it out" in out


def test_missing_corpus_is_one_clear_line(capsys, tmp_path):
    assert main(["measures", "--corpus", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: corpus folder") and "does not exist" in err
    assert "Traceback" not in err


def test_empty_question_is_one_clear_line(capsys, assistant):
    assert main(["ask", "   "]) == 2
    assert "the question is empty" in capsys.readouterr().err


def test_bad_question_file_names_the_line(capsys, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "type": "keyword", "question": "贷款", "gold_measures": [14], '
                         '"should_find": true}\n{"id": "b", \n', encoding="utf-8")
    assert main(["eval", "--questions", str(questions)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err and "Traceback" not in err


def test_feedback_export_without_feedback(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path))
    assert main(["feedback", "export"]) == 0
    assert "no feedback yet" in capsys.readouterr().err


def test_feedback_export_writes_what_the_ui_stored(capsys, tmp_path, monkeypatch):
    import csv

    from assistant.settings import Settings
    from ui.feedback import FeedbackStore

    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path))
    store = FeedbackStore(Settings().feedback_db)
    store.add("贷款难怎么办？", "根据第14条…", [{"measure_number": 14}], "down", comment="想看具体额度")
    out = tmp_path / "feedback.csv"
    assert main(["feedback", "export", "--format", "csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["question"], r["vote"], r["comment"]) for r in rows] == [("贷款难怎么办？", "down", "想看具体额度")]
    assert main(["feedback", "export", "--format", "jsonl"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    assert json.loads(line)["citations"] == [{"measure_number": 14}]


@pytest.mark.parametrize("k,says", [("-3", "out of range"), ("0", "out of range"), ("51", "out of range"),
                                    ("x", "not a whole number")])
def test_search_k_outside_1_to_50_is_one_clear_line(capsys, k, says):
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "贴息", "--k", k])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert says in err and "give 1 to 50" in err and "Traceback" not in err


def test_search_names_the_document_when_hits_come_from_several(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path / "home"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("甲市算力若干措施\n一、算力支持\n1. 发放算力券。每年最高10万元。（市数据局负责）\n", encoding="utf-8")
    (corpus / "b.txt").write_text("乙市算力若干措施\n一、算力支持\n1. 建设算力平台。支持企业使用算力。（市工信局负责）\n",
                                  encoding="utf-8")
    assert main(["search", "算力", "--k", "2", "--corpus", str(corpus)]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line[:2] in ("1.", "2.")]
    assert len(lines) == 2 and all(line[3:4] == "《" for line in lines), lines
    assert {"甲市" in lines[0] + lines[1], "乙市" in lines[0] + lines[1]} == {True}
