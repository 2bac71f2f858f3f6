"""The HTTP API (FastAPI). Thin: every route calls one PolicyAssistant method.

Limits are enforced before a route runs (assistant/middleware.py): bodies over
the limit get 413 (also when sent chunked, without a Content-Length), malformed
or too deeply nested input gets 422 with a message, an unknown Host header 400,
and no input produces a 500 with a stack trace. Every response carries frame
and sniffing protection. /docs serves Swagger UI from the fastapi-offline
package: nothing is fetched from a CDN.
"""

from __future__ import annotations

import hmac
import logging
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from assistant.errors import AssistantError, BadQuestion, NotFound, ReindexBusy, SearchUnavailable
from assistant.middleware import BodyGuard, HostGuard, SecurityHeaders, default_hosts
from assistant.models import (
    MAX_QUESTION_CHARS, AskRequest, AskResponse, DepartmentsResponse, HealthResponse, MeasureOut,
    MeasuresResponse, SearchResponse,
)
from assistant.settings import Settings
from corpus.errors import CorpusError
from index.embedders import available_cores
from index.store import DiskFullError, IndexStoreError

log = logging.getLogger("policyqa.api")


# Domain errors (assistant/errors.py) and the HTTP status each one becomes.
# A rebuild that fails (POST /api/reindex) leaves the old index serving: 507 when the disk is full, else 503.
# A search backend (POLICYQA_SEARCH=milvus) that fails: 503.
ERROR_STATUS = {BadQuestion: 422, NotFound: 404, ReindexBusy: 409, SearchUnavailable: 503, AssistantError: 400,
                DiskFullError: 507, IndexStoreError: 503, CorpusError: 503}


async def get_assistant(request: Request):
    """The PolicyAssistant loaded in the lifespan (or given to create_app).

    ``async``: FastAPI runs a plain ``def`` dependency in a worker thread, one more thread hop per request.
    """
    return request.app.state.assistant


def _json(model: BaseModel) -> Response:
    """A response body from one of the API's own models, serialized by pydantic's Rust core as FastAPI's
    fast path does (same bytes), but without validating our own output again first."""
    return Response(type(model).__pydantic_serializer__.to_json(model), media_type="application/json")


class Worker:
    """Runs the blocking part of a request (retrieval, answer, serialization) in a worker thread, at most
    ``threads`` at a time (default: one per core).

    One hop to a thread and back per request: FastAPI would make three for a plain ``def`` route (its
    dependency, the route, the response's validation). Bounded: with more answers in flight than cores,
    the encoder's C code and the answers' Python only take turns on the cores and the GIL, finishing none
    sooner; the others wait in line, on the event loop, without a thread. See :func:`worker_threads`
    for answers that wait on the network.
    """

    def __init__(self, threads: int | None = None):
        self.threads = threads or available_cores()
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, function, *args):
        if self._limiter is None:  # created on the event loop that serves the app
            self._limiter = anyio.CapacityLimiter(self.threads)
        return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)


def worker_threads(settings: Settings) -> int:
    """Answers that may run at once: one per core while an answer is work on this machine's cores (the
    encoder, BM25, FAISS); plus the LLM's call slots when answers are rewritten by an LLM, and one more per
    core with a Milvus server, since those answers hold their thread while they wait on the network."""
    cores = available_cores()
    threads = cores
    if settings.llm_enabled:
        threads += settings.llm_concurrency
    if settings.search == "milvus":
        threads += cores
    return threads


Assistant = Annotated[object, Depends(get_assistant)]


def _describe(errors) -> str:
    parts = []
    for error in errors:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        kind = error.get("type", "")
        if kind == "json_invalid":
            parts.append("the body is not valid JSON" + (": " + error["ctx"]["error"] if error.get("ctx") else ""))
        elif kind == "string_too_long" and where == "question":
            parts.append(f"question: at most {MAX_QUESTION_CHARS} characters")
        else:
            parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings | None = None, assistant=None, with_ui: bool = True) -> FastAPI:
    """The app; the assistant (corpus + index) loads once, in the lifespan, unless given."""
    settings = settings or Settings()
    holder = {"assistant": assistant}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if holder["assistant"] is None:
            from assistant.service import PolicyAssistant

            holder["assistant"] = PolicyAssistant(settings, say=lambda m: log.warning(m))
            holder["assistant"].warm_up()
        app.state.assistant = holder["assistant"]
        watched = getattr(app.state.assistant, "start_watching", lambda: False)()  # off: POLICYQA_WATCH=0
        try:
            yield
        finally:
            if watched:
                app.state.assistant.stop_watching()

    app = FastAPIOffline(title="Weihai policy Q&A", version="0.1.0", lifespan=lifespan, redoc_url=None,
                         description="Answers about Weihai's industrial policy with measure-level citations.")
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    # Always installed, with no origin allowed unless configured: CORS stays off, and the
    # mounted Gradio app (which reflects any origin when the host is not localhost) defers to it.
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST"],
                       allow_headers=["Authorization", "Content-Type"])
    configured = [h for h in settings.allowed_hosts.split(",") if h.strip()]
    app.add_middleware(HostGuard, allowed=configured or default_hosts(settings.host))
    app.add_middleware(SecurityHeaders)  # outermost: the guards' own refusals carry the headers too

    app.state.assistant = holder["assistant"]
    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        return JSONResponse(status_code=422, content={"detail": _describe(exc.errors())})

    async def domain_error(request: Request, exc: AssistantError):
        status = next(ERROR_STATUS[cls] for cls in type(exc).__mro__ if cls in ERROR_STATUS)
        return JSONResponse(status_code=status, content={"detail": str(exc)})

    for error_class in ERROR_STATUS:
        app.add_exception_handler(error_class, domain_error)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error; the server log has the details"})

    worker = Worker(worker_threads(settings))

    @app.post("/api/ask", response_model=AskResponse, responses={413: {}, 422: {}})
    async def ask(body: AskRequest, assistant: Assistant) -> Response:
        if not body.question.strip():
            raise BadQuestion("question: empty or only whitespace")
        history = [t.model_dump() for t in body.history]
        return await worker.run(lambda: _json(assistant.ask(body.question, history, body.top_k)))

    @app.get("/api/search", response_model=SearchResponse, responses={422: {}})
    async def search(assistant: Assistant,
                     q: Annotated[str, Query(min_length=1, max_length=MAX_QUESTION_CHARS)],
                     k: Annotated[int, Query(ge=1, le=50)] = 5) -> Response:
        if not q.strip():
            raise BadQuestion("q: empty or only whitespace")
        return await worker.run(lambda: _json(SearchResponse(hits=assistant.search(q, k))))

    @app.get("/api/measures", response_model=MeasuresResponse)
    def measures(assistant: Assistant) -> MeasuresResponse:
        return MeasuresResponse(documents=assistant.documents())

    @app.get("/api/measures/{doc_id}/{number}", response_model=MeasureOut, responses={404: {}})
    def measure(doc_id: Annotated[str, "document id"], number: Annotated[str, "measure number or record key"],
                assistant: Assistant) -> MeasureOut:
        return assistant.measure(doc_id, number)

    @app.get("/api/departments", response_model=DepartmentsResponse)
    def departments(assistant: Assistant) -> DepartmentsResponse:
        return DepartmentsResponse(departments=assistant.departments())

    @app.get("/health", response_model=HealthResponse)
    def health(assistant: Assistant) -> HealthResponse:
        return HealthResponse(**assistant.health())

    @app.post("/api/reindex", responses={401: {}, 403: {}, 409: {}, 503: {}, 507: {}})
    def reindex(assistant: Assistant, authorization: Annotated[str | None, Header()] = None) -> dict:
        token = settings.admin_token
        if not token:
            raise HTTPException(status_code=403, detail="reindexing over HTTP is disabled: set POLICYQA_ADMIN_TOKEN")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong token: send Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
        version = assistant.reindex()
        return {"status": "ok", "index_version": version}

    if with_ui:
        from ui.app import mount_ui
        from ui.feedback import FeedbackStore

        # a file that is not a usable feedback database turns feedback off (one warning), never the service
        feedback = FeedbackStore.open_or_disable(settings.feedback_db, warn=log.warning)
        mount_ui(app, lambda: app.state.assistant, feedback, corpus_folder=settings.corpus_folder)  # its ui.json
    return app
