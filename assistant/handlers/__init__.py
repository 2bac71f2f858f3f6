"""One small handler per intent, all behind one protocol: (question, context) → answer.

``Asked`` is the question with what was decided about it once — its intent, its scope (which
documents), the conversation before it; ``Context`` is one consistent index state with the
catalog, the searcher and the refusal model. ``HANDLERS`` maps each intent kind to its handler.
"""

from __future__ import annotations

from typing import Callable

from assistant.handlers.base import Asked, Context, Handler
from assistant.handlers.departments import answer_department
from assistant.handlers.documents import answer_docfact, answer_documents
from assistant.handlers.followups import answer_followup
from assistant.handlers.lists import answer_list, answer_topics
from assistant.handlers.measures import answer_measure, answer_part
from assistant.handlers.search import answer_search
from assistant.intents import IntentKind
from assistant.models import AskResponse

HANDLERS: dict[IntentKind, Callable[[Asked, Context], AskResponse]] = {
    "measure": answer_measure,
    "part": answer_part,
    "department": answer_department,
    "list": answer_list,
    "topics": answer_topics,
    "docfact": answer_docfact,
    "documents": answer_documents,
    "followup": answer_followup,
    "search": answer_search,
}

__all__ = ["Asked", "Context", "Handler", "HANDLERS"]
