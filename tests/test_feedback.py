import csv
import json
import sqlite3
import threading

import pytest

from assistant.models import Citation
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore

CITATION = Citation(
    doc_id="weihai-2026",
    doc_title="威海市大力实施工业经济“头号工程”2026年行动方案",
    measure_number=9,
    measure_title="加力推进智改数转网联",
    section="三、促进实数深度融合，赋能行业数智化转型",
    departments=["市工业和信息化局", "市农业农村局"],
    quote="力争培育2家卓越级智能工厂、5家先进级智能工厂。",
    score=0.91,
)


@pytest.fixture
def store(tmp_path):
    return FeedbackStore(tmp_path / "feedback.sqlite")


def test_add_stores_a_row_in_the_sqlite_file(store, tmp_path):
    row_id = store.add("智能工厂有哪些支持？", "第9条……", [CITATION], "down", comment="  没有提到申报时间  ")

    with sqlite3.connect(tmp_path / "feedback.sqlite") as conn:
        (row,) = conn.execute("SELECT id, question, vote, comment, citations, created_at FROM feedback")
    assert row[0] == row_id
    assert row[1:4] == ("智能工厂有哪些支持？", "down", "没有提到申报时间")
    assert json.loads(row[4])[0]["measure_number"] == 9
    assert row[5].endswith("+00:00")  # ISO 8601, UTC


def test_wal_mode(store, tmp_path):
    with sqlite3.connect(tmp_path / "feedback.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rows_decode_citations_and_keep_order(store):
    store.add("问一", "答一", [CITATION], "up")
    store.add("问二", "答二", [CITATION.model_dump()], "down", comment="")

    rows = store.rows()
    assert [r["question"] for r in rows] == ["问一", "问二"]
    assert rows[0]["citations"] == [CITATION.model_dump()]
    assert rows[1]["citations"] == rows[0]["citations"]  # dicts and models store alike
    assert rows[0]["comment"] is None and rows[1]["comment"] is None  # empty comment → NULL


def test_comment_is_cut_to_2000_chars(store):
    store.add("问", "答", [], "down", comment="长" * 5000)
    assert len(store.rows()[0]["comment"]) == MAX_COMMENT_CHARS


@pytest.mark.parametrize("vote", ["Like", "", None, "UP", "👍"])
def test_bad_vote_is_rejected_with_a_clear_message(store, vote):
    with pytest.raises(ValueError, match=r"vote must be 'up' or 'down'"):
        store.add("问", "答", [], vote)
    assert store.rows() == []


def test_export_csv_parses_back(store, tmp_path):
    store.add("贷款难怎么办？", "第14条「强化金融助力」", [CITATION], "up")
    store.add('带,逗号和"引号"\n换行', "答", [], "down", comment="说明，有逗号")
    out = tmp_path / "out" / "feedback.csv"

    assert store.export(out, format="csv") == 2

    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # no BOM
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "created_at", "question", "answer", "citations", "vote", "comment"]
    assert rows[0]["question"] == "贷款难怎么办？"
    assert json.loads(rows[0]["citations"])[0]["departments"] == ["市工业和信息化局", "市农业农村局"]
    assert rows[1]["question"] == '带,逗号和"引号"\n换行'
    assert rows[1]["comment"] == "说明，有逗号"
    assert json.loads(rows[1]["citations"]) == []


def test_export_jsonl_parses_back(store, tmp_path):
    store.add("招不到熟练技术工人怎么办？", "第15条", [CITATION], "down", comment="想知道补贴标准")
    out = tmp_path / "feedback.jsonl"

    assert store.export(out, format="jsonl") == 1

    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["question"] == "招不到熟练技术工人怎么办？"
    assert record["vote"] == "down"
    assert record["comment"] == "想知道补贴标准"
    assert record["citations"][0]["quote"] == CITATION.quote
    assert "招不到" in lines[0]  # UTF-8, not \\u escapes


def test_export_rejects_unknown_format(store, tmp_path):
    with pytest.raises(ValueError, match="format must be 'csv' or 'jsonl'"):
        store.export(tmp_path / "x.xlsx", format="xlsx")


def test_concurrent_adds_from_threads(store):
    errors = []

    def vote(i):
        try:
            store.add(f"问题{i}", "答", [CITATION], "up" if i % 2 else "down")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.rows()) == 20
    assert len({r["id"] for r in store.rows()}) == 20


@pytest.mark.parametrize("format", ["csv", "jsonl"])
def test_export_to_an_open_text_file(store, format):
    import io

    store.add("贷款难怎么办？", "答", [CITATION], "up")
    buffer = io.StringIO(newline="")
    assert store.export(buffer, format=format) == 1
    text = buffer.getvalue()
    assert "贷款难怎么办？" in text
    if format == "csv":
        assert next(csv.DictReader(io.StringIO(text, newline="")))["vote"] == "up"
    else:
        assert json.loads(text)["vote"] == "up"
