"""A real assistant and FastAPI app over a corpus folder made of chosen documents. Not a test module.

Used by the tests that load several documents together (test_many_documents, test_named_topic,
test_new_document): copy the documents into a folder, serve it in-process, ask over HTTP.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

from fastapi.testclient import TestClient


def corpus_of(folder: Path, files: Iterable[Path]) -> Path:
    """``folder`` (created) holding a copy of each of ``files``."""
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(file, folder / file.name)
    return folder


@contextmanager
def client_over(corpus: Path, home: Path, assistant=None) -> Iterator[TestClient]:
    """The real app (no UI) over ``corpus``, its index under ``home``, built here on first use; or over
    ``assistant`` when given (one made with an injected clock, say)."""
    from assistant.api import create_app
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings

    settings = Settings(home=home, corpus=corpus, build_in_child=False, watch=False)
    assistant = assistant or PolicyAssistant(settings, build_in_child=False)
    with TestClient(create_app(settings, assistant=assistant, with_ui=False)) as client:
        yield client


def ask(client: TestClient, question: str, history: list | None = None) -> dict:
    """POST /api/ask (with ``history`` when given); the body of its 200 answer."""
    payload = {"question": question}
    if history is not None:
        payload["history"] = history
    response = client.post("/api/ask", json=payload)
    assert response.status_code == 200, response.text
    return response.json()
