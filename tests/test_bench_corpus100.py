"""eval/corpus100.py: generated documents that differ, parse like their sources, and grow an index by one."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpus.loading import load_corpus
from eval.bench import texts_to_embed
from eval.corpus100 import document, generate, load_sources, write_document
from index.building import build_index
from tests.test_index_parallel import HashEmbedder


@pytest.fixture(scope="module")
def sources():
    return load_sources()


def test_sources_are_the_13_real_documents_once_each(sources):
    assert len(sources) == 13  # 12 samples + the seed, which is in both folders
    assert {s.kind for s in sources} == {"place", "national", "taiwan"}


def test_every_source_makes_variants_that_differ_and_parse_like_it(sources, tmp_path):
    n = 2 * len(sources)  # each source once as it is, once varied
    generate(tmp_path, n, sources=sources)
    load = load_corpus(tmp_path)
    assert not load.problems
    assert len(load.documents) == n and len({d.doc_id for d in load.documents}) == n
    texts = [d.text for d in load.documents]
    assert len(set(texts)) == n
    titles = {d.title for d in load.documents}
    assert len(titles) >= n - 2  # 个人所得税专项附加扣除暂行办法 keeps its title under a province's notice
    for original, varied in zip(load.documents[:len(sources)], load.documents[len(sources):]):
        assert len(varied.measures) == len(original.measures), varied.doc_id
        assert varied.text != original.text


def test_a_document_depends_only_on_its_number(sources):
    assert document(20, sources) == document(20, sources)
    assert document(20, sources)[1] != document(20 + len(sources), sources)[1]


def test_adding_a_document_embeds_only_its_new_texts(sources, tmp_path):
    """The CI-sized version of `policyqa bench --corpus100`: 5 documents, then a 6th."""
    folder, root = tmp_path / "corpus", tmp_path / "index"
    generate(folder, 5, sources=sources)
    before = load_corpus(folder)
    embedder = HashEmbedder()
    first = build_index(before, root, embedder, parallel=True)
    assert first.manifest.embedded == len(texts_to_embed(before.documents))

    added = write_document(folder, 5, sources)
    after = load_corpus(folder)
    new_doc = next(d for d in after.documents if d.source == added.path.name)
    expected = set(texts_to_embed([new_doc])) - set(texts_to_embed(before.documents))
    second = build_index(after, root, embedder, parallel=True)
    assert second.manifest.counts["documents"] == 6
    assert second.manifest.embedded == len(expected) > 0


def test_the_command_writes_the_folder(tmp_path, capsys):
    from eval.corpus100 import main

    assert main([str(tmp_path / "out"), "--n", "3"]) == 0
    assert len(list(Path(tmp_path / "out").glob("*.txt"))) == 3
    assert "3 documents" in capsys.readouterr().out
