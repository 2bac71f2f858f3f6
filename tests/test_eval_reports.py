"""`policyqa eval` writes each run to a folder of its own and says where; the committed report stays."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.cli import main

COMMITTED = Path(__file__).resolve().parent.parent / "eval" / "reports"
QUESTIONS = [
    {"id": "t1", "type": "keyword", "question": "智能工厂有哪些支持？", "gold_measures": [9], "should_find": True},
    {"id": "t2", "type": "out_of_scope", "question": "个人所得税年度汇算怎么申报？", "gold_measures": [],
     "should_find": False},
]


def test_each_run_gets_its_own_report_folder(tmp_path, policyqa_home, assistant, capsys):
    committed = {p.name: p.read_bytes() for p in COMMITTED.iterdir()}
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in QUESTIONS), encoding="utf-8")
    before = set((policyqa_home / "reports").glob("*")) if (policyqa_home / "reports").exists() else set()

    printed = []
    for _ in range(2):
        assert main(["eval", "--questions", str(questions)]) == 0
        (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("report written to ")]
        printed.append(line)
    new = sorted(set((policyqa_home / "reports").glob("*")) - before)
    assert len(new) == 2 and new[0].name[:8].isdigit()
    assert printed == [f"report written to {folder}/: report.md  report.json  hit_at_3_by_type.png" for folder in new]
    for folder in new:
        assert json.loads((folder / "report.json").read_text(encoding="utf-8"))["retrievers"]["hybrid"]

    out = tmp_path / "chosen"
    assert main(["eval", "--questions", str(questions), "--out", str(out)]) == 0
    assert f"report written to {out}/" in capsys.readouterr().out and (out / "report.md").is_file()
    assert {p.name: p.read_bytes() for p in COMMITTED.iterdir()} == committed  # the documented run is untouched
