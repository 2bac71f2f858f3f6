"""How the LLM support check (assistant/llm.py) scores honest and invented sentences: the figures
behind SUPPORT_THRESHOLD.

    python -m eval.llm_support [--questions FILE] [--corpus DIR]

For every question of the set that gets an answer with citations, it scores (``sentence_support``
against that answer's ``reference_text``) five honest rewordings of its first two quotes (the quote,
the quote cut at its first comma, with a connective, behind the measure title, the departments as a
sentence) and ten invented claims, then prints the distributions and, per threshold, how many honest
sentences would be rejected and how many claims accepted. A question whose answer takes over 5 s is
skipped and counted. Uses the index in POLICYQA_HOME (built on first use).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import statistics
import sys
from pathlib import Path

CLAIMS = ["该政策已于今年停止执行，请勿申报。", "企业无需申请即可自动获得全部支持。", "本措施不适用于小微企业。",
          "请直接联系市长办公室办理。", "该项目已经取消。", "所有企业都可以免税。", "申报截止日期已过。",
          "此政策仅限国有企业。", "补贴将在下个月发放到账户。", "政府将承担全部费用。"]
THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8)


def honest_sentences(citation) -> list[str]:
    quote = citation.quote
    return [quote, quote.split("，")[0] + "。", "简要来说，" + quote, f"按照{citation.measure_title}，{quote[:40]}。",
            "责任单位是" + "、".join(citation.departments) + "。"]


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def main(argv=None) -> int:
    from assistant.llm import _bigrams, reference_text, sentence_support
    from assistant.service import PolicyAssistant
    from assistant.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", default=str(Path(__file__).parent / "questions" / "weihai-2026.jsonl"))
    parser.add_argument("--corpus")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)
    rows = [json.loads(line) for line in Path(args.questions).read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [r["question"] for r in rows if isinstance(r.get("question"), str)]
    assistant = PolicyAssistant(Settings(**({"corpus": Path(args.corpus)} if args.corpus else {})))

    def too_slow(*_):
        raise TimeoutError

    signal.signal(signal.SIGALRM, too_slow)
    honest, invented, answered, skipped = [], [], 0, 0
    for question in questions:
        signal.alarm(5)
        try:
            response = assistant.ask(question)
        except TimeoutError:
            skipped += 1
            continue
        finally:
            signal.alarm(0)
        if not response.found or not response.citations:
            continue
        answered += 1
        reference = {g for piece in reference_text(response.answer, response.citations) for g in _bigrams(piece)}
        honest += [sentence_support(s, reference) for c in response.citations[:2] for s in honest_sentences(c)]
        invented += [sentence_support(s, reference) for s in CLAIMS]
    print(f"{len(questions)} questions, {answered} answered with citations, {skipped} skipped (over 5 s)")
    print(f"honest sentences {len(honest)}: median {statistics.median(honest):.2f}, 5th percentile "
          f"{_quantile(honest, 0.05):.2f}, 1st {_quantile(honest, 0.01):.2f}, min {min(honest):.2f}")
    print(f"invented claims {len(invented)}: max {max(invented):.2f}, 99th percentile {_quantile(invented, 0.99):.2f}, "
          f"median {statistics.median(invented):.2f}")
    for t in THRESHOLDS:
        print(f"threshold {t}: honest rejected {sum(h < t for h in honest)} ({sum(h < t for h in honest) / len(honest):.1%}),"
              f" claims accepted {sum(v >= t for v in invented)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
