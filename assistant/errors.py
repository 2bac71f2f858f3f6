"""Domain errors of the assistant, turned into HTTP errors and CLI messages at the edge."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: the message says what was wrong and how to fix it."""


class NotFound(AssistantError):
    """An unknown document, measure or department."""


class BadQuestion(AssistantError):
    """A question that cannot be answered as given (empty, too long, ...)."""


class ReindexBusy(AssistantError):
    """A rebuild is already running."""


class SearchUnavailable(AssistantError):
    """The search backend (POLICYQA_SEARCH=milvus) cannot be reached or failed; the message says what to check."""
