"""A question that names its document is ranked by what it asks, not by the words that named it.

国发〔2018〕41号 (个人所得税专项附加扣除暂行办法) has a 第二条 that repeats the title and lists every
deduction (子女教育、继续教育、大病医疗、住房贷款利息或者住房租金、赡养老人); each deduction then has a
chapter of its own. A question that names the document by its title used to get 第二条 first, because the
title's words are all in it. Also: with that document loaded, 个税 questions are answered from it — the
refusal is relative to the corpus, not to a list of topics.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "corpus" / "documents" / "weihai-2026-industrial-action-plan.txt"
SAMPLES = ROOT / "corpus" / "samples"
IIT = "national_2018_iit-special-deductions"
EMPLOY = "national_2018_employment-opinions"


@pytest.fixture(scope="module")
def client(tmp_path_factory, policyqa_home):
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings

    folder = tmp_path_factory.mktemp("named-topic")
    for file in (SEED_FILE, SAMPLES / f"{IIT}.txt", SAMPLES / f"{EMPLOY}.txt"):
        shutil.copyfile(file, folder / file.name)
    settings = Settings(home=policyqa_home, corpus=folder, build_in_child=False, watch=False)
    assistant = PolicyAssistant(settings, build_in_child=False)
    with TestClient(create_app(settings, assistant=assistant, with_ui=False)) as test_client:
        yield test_client


def ask(client, question: str) -> dict:
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("question,chapter", [
    ("个人所得税专项附加扣除暂行办法中赡养老人怎么扣除？", {"22", "23", "24", "25"}),  # 第七章 赡养老人
    ("个人所得税专项附加扣除办法里继续教育怎么扣？", {"8", "9", "10"}),  # 第三章 继续教育
    ("国发〔2018〕41号里子女教育的扣除标准是多少？", {"5", "6", "7"}),  # 第二章 子女教育, named by 文号
])
def test_a_document_named_by_title_is_searched_for_the_topic_asked(client, question, chapter):
    body = ask(client, question)
    assert body["found"] is True
    first = body["citations"][0]
    assert first["doc_id"] == IIT
    assert first["measure_key"] in chapter, body["answer"][:300]
    assert first["measure_key"] != "2"


@pytest.mark.parametrize("question", ["个税的子女教育扣除标准是多少？", "赡养老人的个税怎么扣除？"])
def test_personal_income_tax_questions_are_answered_when_the_corpus_holds_that_document(client, question):
    body = ask(client, question)
    assert body["found"] is True, body["answer"]
    assert body["citations"][0]["doc_id"] == IIT


def test_a_question_the_documents_do_not_hold_is_still_refused_when_it_names_one(client):
    body = ask(client, "个人所得税专项附加扣除办法里，明天的天气怎么样？")
    assert body["found"] is False
    assert body["citations"] == []
