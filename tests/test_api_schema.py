"""Property-based API testing: schemathesis generates requests from the OpenAPI schema.

No generated input may produce a server error, and every response must match
the schema. The app runs in-process (ASGI) with the real assistant.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings as hyp_settings

from assistant.api import create_app
from assistant.settings import Settings

pytestmark = pytest.mark.slow


class _SessionAssistant:
    """Stands in for the session's real assistant, which exists only once fixtures run."""

    target = None

    def __getattr__(self, name):
        return getattr(type(self).target, name)


# A token is set so /api/reindex is reachable; generated requests never carry it.
APP = create_app(Settings(admin_token="t0ken-not-guessable"), assistant=_SessionAssistant(), with_ui=False)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(autouse=True)
def _real_assistant(assistant):
    _SessionAssistant.target = assistant


@schema.parametrize()
@hyp_settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_responses_match_the_schema(case):
    response = case.call()
    assert response.status_code < 500, f"{case.method} {case.path} → {response.status_code}: {response.text[:300]}"
    case.validate_response(response, excluded_checks=[schemathesis.checks.positive_data_acceptance,
                                                      schemathesis.checks.negative_data_rejection])
