"""The API against its own OpenAPI document, by a client that reads only the document.

schemathesis loads ``/api/openapi.json`` from a live search API on loopback (the real app
factory over the fakes of ``tests/support``, served by werkzeug on a free port) and sends
requests it generates from each operation's schemas: valid ones and, in the negative phase,
ones that break them. Every answer must be documented (status code, content type, headers)
and match its schema, and none may be a 5xx. The number of examples is bounded so the run
stays within about a minute on two cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.support.api import api_under_test

KEY = "contract-key"
# Requests per operation and mode; CONTRACT_EXAMPLES=200 searches harder (a few minutes).
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "12"))
WRITE = {"Authorization": f"Bearer {KEY}"}
# No 5xx; every status, content type and header documented; every body fits its schema; and
# a request that breaks the schema is refused with a 4xx. Not "positive_data_acceptance": a
# request can fit the schema and still be refused for what the index holds (a breed it does
# not have, bytes that are not a photo, a URL that cannot be fetched), which is a 400 by design.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# Ours besides schemathesis's defaults: too much (413 too_many_images, payload_too_large) and a
# too-long URL (414) are refusals too, and documented where they happen.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 414, 415, 422]
            }
        }
    }
)


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # hundreds of requests: keep the log readable
        pass


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[str]:
    """The search API on 127.0.0.1 (a free port), with a write key set."""
    api = api_under_test(tmp_path_factory.mktemp("contract"), per_breed=2, write_key=KEY)
    server = make_server("127.0.0.1", 0, api.app, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="contract-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def check_operation(operation, mode: GenerationMode) -> list[str]:
    """Send ``EXAMPLES`` generated requests to one operation; what went wrong, if anything."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,  # the same requests every run: a failure reproduces
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
    )
    def send(case) -> None:
        case.call_and_validate(headers=WRITE, checks=CHECKS, timeout=30)

    try:
        send()
    except Unsatisfiable:  # nothing to break: an operation without parameters or body
        return []
    except Exception as error:  # schemathesis says which check failed, and the curl to reproduce
        return [f"{mode} {operation.label}: {str(error)[:1500]}"]
    return []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_documented_and_fits_its_schema(live_api, mode):
    schema = schemathesis.openapi.from_url(f"{live_api}/api/openapi.json", config=CONFIG)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15, [operation.label for operation in operations]
    for operation in operations:
        failures += check_operation(operation, mode)
    assert not failures, "\n\n".join(failures[:20])
