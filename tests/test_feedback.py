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


# --- one vote per answer, however many arrive at once ------------------------------------------


def test_ten_concurrent_votes_on_one_answer_store_exactly_one_row(store):
    barrier = threading.Barrier(10)
    ids, errors = [], []

    def vote(i):
        try:
            barrier.wait()
            ids.append(store.add("贷款难怎么办？", "第14条", [CITATION], "up" if i % 2 else "down", answer_id="a1"))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = store.rows()
    assert len(rows) == 1
    assert set(ids) == {rows[0]["id"]}  # every caller is told the row that holds the vote


def test_ten_concurrent_votes_from_other_processes_store_one_row(store, tmp_path):
    """Separate processes do not share the store's lock: the unique index alone decides."""
    import subprocess
    import sys

    code = ("import sys; from ui.feedback import FeedbackStore; "
            "FeedbackStore(sys.argv[1]).add('问', '答', [], 'up', answer_id='same-answer')")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(store.path)]) for _ in range(10)]
    assert [p.wait(timeout=60) for p in procs] == [0] * 10
    assert len(store.rows()) == 1


def test_ui_votes_clicked_at_once_store_one_row(tmp_path):
    from tests.fake_assistant import FakeAssistant
    from ui.app import _Handlers

    store = FeedbackStore(tmp_path / "f.sqlite")
    h = _Handlers(FakeAssistant, store)
    _, _, last, _, _ = h.ask("贷款难怎么办？", [], [])
    barrier = threading.Barrier(10)

    def click():
        barrier.wait()
        h.vote("up", last, "")  # every click carries the same last answer, before any reply

    threads = [threading.Thread(target=click) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store.rows()) == 1


def test_an_old_file_without_answer_ids_is_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, "
                     "question TEXT NOT NULL, answer TEXT NOT NULL, citations TEXT NOT NULL, vote TEXT NOT NULL, "
                     "comment TEXT)")
        conn.execute("INSERT INTO feedback VALUES (1, '2026-01-01T00:00:00+00:00', '旧问题', '旧回答', '[]', 'up', NULL)")
    conn.close()
    store = FeedbackStore(path)
    store.add("新问题", "答", [], "down", answer_id="x")
    store.add("新问题", "答", [], "up", answer_id="x")
    assert [(r["question"], r["vote"]) for r in store.rows()] == [("旧问题", "up"), ("新问题", "down")]


# --- CSV export: no formulas -------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_export_neutralizes_formulas(store, tmp_path, text):
    store.add(text, text, [], "up", comment=text + " 备注")
    out = tmp_path / "f.csv"
    store.export(out)
    with out.open(encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    assert row["question"] == "'" + text
    assert row["answer"] == "'" + text
    assert row["comment"] == "'" + (text + " 备注").strip()  # the store strips comments
    jsonl = tmp_path / "f.jsonl"
    store.export(jsonl, format="jsonl")
    assert json.loads(jsonl.read_text(encoding="utf-8"))["question"] == text  # JSON keeps the text as asked


def test_csv_export_leaves_ordinary_text_alone(store, tmp_path):
    store.add("贷款难怎么办？ =不是公式", "答-", [], "up")
    out = tmp_path / "f.csv"
    store.export(out)
    with out.open(encoding="utf-8", newline="") as f:
        row = next(csv.DictReader(f))
    assert (row["question"], row["answer"]) == ("贷款难怎么办？ =不是公式", "答-")


# --- files that are not usable feedback databases (the real server start: test_feedback_faults.py) --


def _bad(path, how):
    if how == "random bytes":
        path.write_bytes(bytes(range(256)) * 32)
    elif how == "directory":
        path.mkdir()
    elif how == "other tables":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE users (name TEXT)")
        conn.close()
    elif how == "feedback without its columns":
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE feedback (id INTEGER PRIMARY KEY, text TEXT)")
        conn.close()
    elif how == "truncated header":
        path.write_bytes(b"SQLite format 3\x00" + b"\x10\x00")


@pytest.mark.parametrize("how", ["random bytes", "directory", "other tables", "feedback without its columns",
                                 "truncated header"])
def test_open_or_disable_moves_a_corrupt_file_aside_with_one_warning(tmp_path, how):
    path = tmp_path / "feedback.sqlite3"
    _bad(path, how)
    warnings = []
    assert FeedbackStore.open_or_disable(path, warnings.append) is None
    assert len(warnings) == 1 and "feedback is off" in warnings[0]
    (moved,) = [p for p in tmp_path.iterdir() if p.name.startswith("feedback.sqlite3.bad-")]
    assert str(moved) in warnings[0] and not path.exists()


def test_open_or_disable_keeps_a_zero_length_file_as_a_new_database(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    path.write_bytes(b"")
    warnings = []
    store = FeedbackStore.open_or_disable(path, warnings.append)
    assert warnings == [] and store is not None
    store.add("问", "答", [], "up")
    assert len(store.rows()) == 1


def test_a_vote_that_cannot_be_written_says_so(tmp_path):
    from ui.feedback import FeedbackUnavailable

    store = FeedbackStore(tmp_path / "f.sqlite3")
    with sqlite3.connect(store.path) as conn:
        conn.execute("DROP TABLE feedback")
    conn.close()
    with pytest.raises(FeedbackUnavailable, match="the vote could not be stored"):
        store.add("问", "答", [], "up")
