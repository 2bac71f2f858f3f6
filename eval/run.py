"""`policyqa eval`: score the assistant on a question file, print the numbers, write a report.

Every question goes through ``PolicyAssistant.ask`` (the code path behind POST /api/ask), once
per retriever asked for: bm25, dense, hybrid, or all three (plus a sentence-transformers model
as a fourth row when ``POLICYQA_EVAL_ST_MODEL`` names one). The report folder gets report.md,
report.json (every number, per question too) and hit_at_3_by_type.png.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from eval import metrics
from eval.metrics import HIT_CUTOFFS, Outcome, Scores
from eval.questions_file import (
    QUESTION_TYPES, Question, QuestionFileError, QuestionSet, check_question_set, load_questions,
)

RETRIEVER_NAMES = ("bm25", "dense", "hybrid")
ST_MODEL_ENV = "POLICYQA_EVAL_ST_MODEL"
ST_ROW = "hybrid+st"  # the row of the sentence-transformers model (hybrid retrieval with its vectors)
CHART_NAME = "hit_at_3_by_type.png"
CHART_CUTOFF = 3
CJK_FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
TYPE_GLOSS = {"keyword": "原文关键词", "paraphrase": "换种说法", "figure": "目标数字", "department": "责任部门",
              "multi": "两条措施", "list": "列出全部", "docfact": "文件信息", "followup": "追问",
              "out_of_scope": "超出范围"}


@dataclass
class Run:
    """One row of the comparison: a retriever (or model) and what it did with every question."""

    name: str  # bm25 | dense | hybrid | hybrid+st
    description: str
    outcomes: list[Outcome]
    retrieval: dict[str, Any] = field(default_factory=dict)  # search ranking alone, see retrieval_scores

    def overall(self, k: int) -> Scores:
        return metrics.summarize(self.outcomes, ndcg_k=k)

    def by_type(self, k: int) -> dict[str, Scores]:
        return metrics.by_type(self.outcomes, ndcg_k=k)


def main(args) -> int:
    """Entry point of `policyqa eval` (args: questions, retriever, k, out, corpus)."""
    from assistant.settings import Settings

    k = getattr(args, "k", None) or 5
    if k < 1:
        _say("error: --k must be at least 1")
        return 2
    retriever = getattr(args, "retriever", None) or "hybrid"
    try:
        questions = load_questions(getattr(args, "questions", None))  # the file's shape: before any index work
    except QuestionFileError as exc:
        _say(f"error: {exc}")
        return 2

    # the corpus the question file names (its header), unless --corpus says otherwise
    corpus = getattr(args, "corpus", None) or questions.corpus
    overrides = {"corpus": Path(corpus)} if corpus else {}
    settings = Settings(**overrides)
    out_dir = Path(args.out) if getattr(args, "out", None) else new_report_dir(settings.home)
    assistant = _build_assistant(settings)
    try:
        questions = check_question_set(questions, assistant.documents())
    except QuestionFileError as exc:
        _say(f"error: {exc}")
        return 2
    split = getattr(args, "split", None) or "all"
    questions = questions.part(split)
    if not len(questions):
        _say(f"error: no question of {questions.path} is in the {split!r} part; use --split all, tune or test")
        return 2
    known_departments = [d.name for d in assistant.departments()]

    plans: list[tuple[str, str, Any]] = []
    names = RETRIEVER_NAMES if retriever == "all" else (retriever,)
    described = {"bm25": "BM25 only (jieba)", "dense": f"dense only ({settings.embedder})",
                 "hybrid": f"BM25 + dense ({settings.embedder}), fused"}
    for name in names:
        plans.append((name, described[name], assistant.using(name)))
    st_model = os.environ.get(ST_MODEL_ENV, "").strip()
    if retriever == "all" and st_model:
        spec = st_model if st_model.startswith("st:") else f"st:{st_model}"
        st_assistant = _build_assistant(Settings(**overrides, embedder=spec))
        plans.append((ST_ROW, f"BM25 + dense ({spec}, from {ST_MODEL_ENV}), fused",
                      st_assistant.using("hybrid")))

    runs = [Run(name, description, ask_all(view, questions, k, known_departments, label=name),
                retrieval_scores(view, questions, k))
            for name, description, view in plans]

    text = summary_text(runs, questions, k)
    print(text)
    try:
        paths = write_report(out_dir, runs, questions, k, settings=settings,
                             index_version=assistant.health()["index_version"])
    except OSError as exc:
        _say(f"error: cannot write the report into {out_dir} ({exc.strerror or exc}); choose a folder with --out")
        return 2
    print(f"report written to {out_dir}/: " + "  ".join(p.name for p in paths))
    errors = sum(run.overall(k).errors for run in runs)
    if errors:
        _say(f"error: {errors} question(s) raised an exception while being answered; see 'errors' in {paths[1]}")
        return 1
    return 0


def new_report_dir(home: Path) -> Path:
    """``home/reports/<UTC time>/`` (e.g. 20261130T081502Z), a folder no earlier run used.

    Each run keeps its own report; the committed eval/reports/ is written only
    when asked for with ``--out eval/reports``.
    """
    base = Path(home) / "reports" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder, n = base, 2
    while folder.exists():
        folder, n = base.with_name(f"{base.name}-{n}"), n + 1
    return folder


# -- asking -------------------------------------------------------------------------------------------
def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _build_assistant(settings):
    from tqdm import tqdm

    from assistant.service import PolicyAssistant

    def progress(total: int, what: str) -> Callable[[int], None]:
        return tqdm(total=total, desc=what, unit="chunk", file=sys.stderr, leave=False).update

    return PolicyAssistant(settings, say=_say, progress_factory=progress)


def ask_all(assistant, questions: QuestionSet, k: int, known_departments: Sequence[str],
            label: str = "eval") -> list[Outcome]:
    """Every question through ``assistant.ask`` (as POST /api/ask does), with a progress bar on stderr."""
    from tqdm import tqdm

    outcomes = []
    for question in tqdm(questions.questions, desc=label, unit="q", file=sys.stderr, leave=False):
        outcomes.append(ask_one(assistant, question, k, known_departments))
    return outcomes


def ask_one(assistant, question: Question, k: int, known_departments: Sequence[str]) -> Outcome:
    from assistant.answers import unsupported_figures

    started = time.perf_counter()
    try:
        response = assistant.ask(question.question, question.history_dicts(), top_k=k)
    except Exception as exc:  # recorded on the question and reported; the other questions still run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        error = f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"
        return Outcome(question, (), found=False, answer="", error=error)
    latency_ms = (time.perf_counter() - started) * 1000
    return Outcome(
        question=question,
        ranking=tuple(metrics.ranking_of(response.citations)),
        found=response.found,
        answer=response.answer,
        intent=response.intent,
        departments=tuple(metrics.departments_named(response.answer, known_departments)),
        latency_ms=latency_ms,
        unsupported=tuple(unsupported_figures(response.answer, response.citations,
                                              refusal=not response.found and not response.citations)),
    )


RETRIEVAL_TYPES = ("keyword", "paraphrase", "figure", "multi")


def retrieval_scores(assistant, questions: QuestionSet, k: int) -> dict[str, Any]:
    """The search ranking alone (``assistant.search``, as GET /api/search), before the answer keeps
    only the measures close to the best: hit@1/3/5 and MRR over the retrieval question types."""
    chosen = [q for q in questions.questions if q.type in RETRIEVAL_TYPES and q.gold_measures and not q.history]
    hits = {cutoff: 0.0 for cutoff in HIT_CUTOFFS}
    mrr = 0.0
    for question in chosen:
        ranking = metrics.ranking_of(assistant.search(question.question, k=max(k, max(HIT_CUTOFFS))))
        gold = question.gold_keys
        for cutoff in HIT_CUTOFFS:
            hits[cutoff] += metrics.hit_at_k(ranking, gold, cutoff)
        mrr += metrics.reciprocal_rank(ranking, gold)
    n = len(chosen)
    return {"questions": n, "types": list(RETRIEVAL_TYPES),
            **{f"hit@{c}": (hits[c] / n if n else None) for c in HIT_CUTOFFS}, "mrr": (mrr / n if n else None)}


def retrieval_table(runs: Sequence[Run]) -> tuple[list[str], list[list[str]]]:
    header = ["retriever", "n"] + [f"hit@{c}" for c in HIT_CUTOFFS] + ["MRR"]
    rows = [[run.name, str(run.retrieval.get("questions", 0))]
            + [cell(run.retrieval.get(f"hit@{c}"), "hit") for c in HIT_CUTOFFS]
            + [cell(run.retrieval.get("mrr"), "MRR")] for run in runs if run.retrieval]
    return header, rows


# -- the printed summary --------------------------------------------------------------------------------
def columns(k: int) -> list[tuple[str, Callable[[Scores], Any]]]:
    cols: list[tuple[str, Callable[[Scores], Any]]] = [("n", lambda s: s.questions)]
    cols += [(f"hit@{c}", lambda s, c=c: s.hit.get(c)) for c in HIT_CUTOFFS]
    cols += [
        ("MRR", lambda s: s.mrr), (f"nDCG@{k}", lambda s: s.ndcg),
        ("deptP", lambda s: s.department_precision), ("deptR", lambda s: s.department_recall),
        ("deptEx", lambda s: s.department_exact),
        ("figEM", lambda s: s.figure_exact_match),
        ("refuseP", lambda s: s.refusal_precision), ("refuseR", lambda s: s.refusal_recall),
        ("p50 ms", lambda s: s.latency_median_ms), ("p95 ms", lambda s: s.latency_p95_ms),
        ("unsup", lambda s: s.unsupported_answers),
    ]
    return cols


def cell(value: Any, header: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if header.endswith("ms"):
        return f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return f"{value:.3f}"


def table_rows(runs: Sequence[Run], k: int, per_type: bool) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the overall table (one row per run) or the per-type table."""
    cols = columns(k)
    header = (["type"] if per_type else []) + ["retriever"] + [name for name, _ in cols]
    rows = []
    if not per_type:
        for run in runs:
            scores = run.overall(k)
            rows.append([run.name] + [cell(get(scores), name) for name, get in cols])
        return header, rows
    tables = {run.name: run.by_type(k) for run in runs}
    types = [t for t in QUESTION_TYPES if any(t in table for table in tables.values())]
    for qtype in types:
        for i, run in enumerate(runs):
            scores = tables[run.name].get(qtype)
            if scores is None:
                continue
            rows.append([qtype if i == 0 else ""] + [run.name] + [cell(get(scores), name) for name, get in cols])
    return header, rows


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(values: list[str]) -> str:
        return "  ".join(v.ljust(w) if i < 2 and not v[:1].isdigit() else v.rjust(w)
                         for i, (v, w) in enumerate(zip(values, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def summary_text(runs: Sequence[Run], questions: QuestionSet, k: int) -> str:
    parts = [f"Evaluation of {len(questions)} questions from {questions.path.name} (top_k={k})"]
    parts += [f"  {run.name}: {run.description}" for run in runs] + [""]
    parts += ["Overall", plain_table(*table_rows(runs, k, per_type=False)), ""]
    parts += ["By question type", plain_table(*table_rows(runs, k, per_type=True)), ""]
    if any(run.retrieval for run in runs):
        parts += ["Retrieval alone (the search ranking, GET /api/search; " + ", ".join(RETRIEVAL_TYPES) + ")",
                  plain_table(*retrieval_table(runs)), ""]
    primary = next((run for run in runs if run.name == "hybrid"), runs[0] if runs else None)
    for run in runs:
        wrong = metrics.mistakes(run.outcomes)
        if run is not primary:
            parts.append(f"Wrong with {run.name}: {len(wrong)} of {len(run.outcomes)} (listed in report.md)")
            continue
        parts.append(f"Wrong with {run.name}: {len(wrong)} of {len(run.outcomes)}")
        for m in wrong:
            parts.append(f"  {m.id} [{m.type}] {m.question}")
            parts.append(f"      gold: {m.gold}")
            parts.append(f"      got:  {m.got}   ({'; '.join(m.reasons)})")
    for run in runs:
        flagged = [o for o in run.outcomes if o.unsupported]
        parts.append(f"Answers with unsupported figures ({run.name}): {len(flagged)}"
                     + (" — " + ", ".join(f"{o.question.id} {'/'.join(o.unsupported)}" for o in flagged[:10])
                        if flagged else ""))
    return "\n".join(parts)


# -- the report folder ------------------------------------------------------------------------------------
def write_report(out_dir: Path, runs: Sequence[Run], questions: QuestionSet, k: int, settings=None,
                 index_version: str | None = None) -> list[Path]:
    """report.md, report.json and the chart, each written beside its final name and renamed into place."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = report_data(runs, questions, k, settings=settings, index_version=index_version)
    json_path, md_path, chart_path = out_dir / "report.json", out_dir / "report.md", out_dir / CHART_NAME
    _atomic_write(json_path, lambda p: p.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n",
                                                    encoding="utf-8"))
    _atomic_write(chart_path, lambda p: draw_chart(runs, questions, k, p))
    _atomic_write(md_path, lambda p: p.write_text(report_markdown(runs, questions, k, data), encoding="utf-8"))
    return [md_path, json_path, chart_path]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _rounded(scores: dict[str, Any]) -> dict[str, Any]:
    return {key: (round(v, 4) if isinstance(v, float) else v) for key, v in scores.items()}


def report_data(runs: Sequence[Run], questions: QuestionSet, k: int, settings=None,
                index_version: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "questions_file": str(questions.path),
        "questions": len(questions),
        "top_k": k,
        "corpus": str(settings.corpus) if settings is not None and settings.corpus else "bundled",
        "embedder": settings.embedder if settings is not None else None,
        "index_version": index_version,
        "retrievers": {},
    }
    for run in runs:
        data["retrievers"][run.name] = {
            "description": run.description,
            "overall": _rounded(run.overall(k).as_dict()),
            "retrieval": _rounded(run.retrieval),
            "by_type": {t: _rounded(s.as_dict()) for t, s in run.by_type(k).items()},
            "wrong": [m.as_dict() for m in metrics.mistakes(run.outcomes)],
            "unsupported_figures": [{"id": o.question.id, "figures": list(o.unsupported), "answer": o.answer}
                                    for o in run.outcomes if o.unsupported],
            "errors": [{"id": o.question.id, "error": o.error} for o in run.outcomes if o.error],
            "results": [{"id": o.question.id, "type": o.question.type, "found": o.found, "intent": o.intent,
                         "ranking": [key for _, key in o.ranking],
                         "ranking_documents": [doc for doc, _ in o.ranking], "split": o.question.split,
                         "departments": list(o.departments),
                         "latency_ms": round(o.latency_ms, 2), "correct": not metrics.reasons_wrong(o)}
                        for o in run.outcomes],
        }
    return data


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def esc(v: str) -> str:
        return v.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report_markdown(runs: Sequence[Run], questions: QuestionSet, k: int, data: dict[str, Any]) -> str:
    lines = [
        f"# Evaluation: {questions.path.name}",
        "",
        f"{len(questions)} questions, top_k={k}, generated {data['generated_at']}; corpus: {data['corpus']}; "
        f"index {data['index_version']}.",
        "",
        "Rows: " + "; ".join(f"**{run.name}**: {run.description}" for run in runs) + ".",
        "Metric definitions: eval/README.md. `-` means not defined for that row (no such questions, or a zero "
        "denominator).",
        "",
        "## Overall",
        "",
        _md_table(*table_rows(runs, k, per_type=False)),
        "",
        f"![hit@{CHART_CUTOFF} by question type and retriever]({CHART_NAME})",
        "",
        "## By question type",
        "",
        _md_table(*table_rows(runs, k, per_type=True)),
        "",
        "## Retrieval alone",
        "",
        "The search ranking (GET /api/search) before the answer keeps only the measures close to the best one; "
        "question types " + ", ".join(RETRIEVAL_TYPES) + ".",
        "",
        _md_table(*retrieval_table(runs)) if any(run.retrieval for run in runs) else "(not measured)",
        "",
        "## Figures not supported by the citations",
        "",
    ]
    for run in runs:
        flagged = [o for o in run.outcomes if o.unsupported]
        lines.append(f"- {run.name}: {len(flagged)} answer(s)" +
                     ("".join(f"\n  - {o.question.id}: {'、'.join(o.unsupported)}" for o in flagged)))
    lines.append("")
    errors = [(run.name, o) for run in runs for o in run.outcomes if o.error]
    if errors:
        lines += ["## Errors", ""] + [f"- {name} {o.question.id}: `{o.error}`" for name, o in errors] + [""]
    for run in runs:
        wrong = metrics.mistakes(run.outcomes)
        lines += [f"## Wrong with {run.name} ({len(wrong)} of {len(run.outcomes)})", ""]
        if wrong:
            lines.append(_md_table(["id", "type", "question", "gold", "got", "why"],
                                   [[m.id, m.type, m.question, m.gold, m.got, "; ".join(m.reasons)] for m in wrong]))
        else:
            lines.append("None.")
        lines.append("")
    return "\n".join(lines)


# -- the chart ----------------------------------------------------------------------------------------------
def _cjk_font() -> str | None:
    """Register a CJK-capable font with matplotlib; its family name, or None when there is none."""
    from matplotlib import font_manager

    for path in CJK_FONT_FILES:
        if Path(path).is_file():
            try:
                font_manager.fontManager.addfont(path)
                return font_manager.FontProperties(fname=path).get_name()
            except (OSError, RuntimeError, ValueError):
                continue
    return None


def draw_chart(runs: Sequence[Run], questions: QuestionSet, k: int, path: Path) -> None:
    """Grouped bars: hit@3 per question type (and overall), one bar per retriever."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = _cjk_font()
    tables = {run.name: run.by_type(k) for run in runs}
    types = [t for t in QUESTION_TYPES
             if any(t in table and table[t].ranked for table in tables.values())]
    groups = ["overall"] + types
    counts = {"overall": runs[0].overall(k).ranked if runs else 0}
    counts.update({t: next(table[t].ranked for table in tables.values() if t in table) for t in types})

    def label(group: str) -> str:
        gloss = "全部" if group == "overall" else TYPE_GLOSS.get(group)
        middle = f"\n{gloss}" if font and gloss else ""
        return f"{group}{middle}\nn={counts[group]}"

    rc = {"font.family": "sans-serif", "font.sans-serif": ([font] if font else []) + ["DejaVu Sans"],
          "axes.spines.top": False, "axes.spines.right": False}
    with plt.rc_context(rc):
        fig, ax = plt.subplots(figsize=(max(8.0, 1.25 * len(groups) + 2), 5.2), dpi=150)
        palette = ["#4C72B0", "#DD8452", "#55A868", "#8172B3", "#C44E52", "#937860"]
        width = 0.8 / max(len(runs), 1)
        for i, run in enumerate(runs):
            values = []
            for group in groups:
                scores = run.overall(k) if group == "overall" else tables[run.name].get(group)
                values.append(scores.hit.get(CHART_CUTOFF) if scores is not None else None)
            xs = [g + (i - (len(runs) - 1) / 2) * width for g in range(len(groups))]
            heights = [v or 0.0 for v in values]
            bars = ax.bar(xs, heights, width * 0.92, label=run.name, color=palette[i % len(palette)], zorder=2)
            for bar, value in zip(bars, values):
                if value is None:
                    continue
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.012, f"{value:.2f}",
                        ha="center", va="bottom", fontsize=7.5 if len(runs) > 3 else 8,
                        rotation=90 if len(runs) > 3 else 0, color="#333333")
        ax.axvspan(-0.5, 0.5, color="#f2f2f2", zorder=0)  # the overall group stands apart
        ax.set_xticks(range(len(groups)), [label(g) for g in groups], fontsize=8.5)
        ax.set_xlim(-0.5, len(groups) - 0.5)
        ax.set_ylim(0, 1.12)
        ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax.set_ylabel(f"hit@{CHART_CUTOFF}: a gold measure among the first {CHART_CUTOFF} cited")
        ax.grid(axis="y", color="#dddddd", linewidth=0.8, zorder=0)
        ax.set_title(f"hit@{CHART_CUTOFF} by question type and retriever — {questions.path.name}, top_k={k}",
                     fontsize=11, loc="left")
        ax.legend(title="retriever", ncol=len(runs), loc="lower right", bbox_to_anchor=(1.0, 1.0),
                  fontsize=8, title_fontsize=8, frameon=False)
        fig.tight_layout()
        fig.savefig(path, format="png")
        plt.close(fig)
