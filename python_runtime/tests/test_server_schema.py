"""schemathesis against the server's own `/openapi.json`: every operation gets generated valid
(positive) and invalid (negative) requests; the server (a `skewless serve` subprocess on the
serving fixture project and a real Redis) must answer each one with a documented status code,
content type and a body matching the documented schema, and never a server error other than
a documented 503 carrying a JSON error code.

The counts (cases sent, per status, failures) are printed and recorded in the test summary.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from serving_fixtures import BuiltProject
from test_server import ServerProcess

from skewless.definitions.registry import Registry
from skewless.online.local_redis import LocalRedis

schemathesis = pytest.importorskip("schemathesis")  # a dev dependency: CI always has it

#: Generated cases per operation and mode (positive, negative).
EXAMPLES = 100
#: The only 5xx the server documents, and the error codes it may carry.
UNAVAILABLE_CODES = {
    "deadline_exceeded",
    "online_store_error",
    "store_unavailable",
    "not_materialized",
    "stale_feature",
    "broken_view",
    "offline_unavailable",
}


@pytest.fixture(scope="module")
def schema_server(built: BuiltProject, tmp_path_factory: Any) -> Any:
    from serving_fixtures import NOON

    from skewless.online.connection import connect
    from skewless.online.materialize import materialize

    rs = LocalRedis()
    materialize(Registry.from_manifest(built.manifest), connect(rs.url), built.duckdb, now=NOON)
    log: Path = tmp_path_factory.mktemp("schema") / "server.log"
    srv = ServerProcess(built.dir, rs.url, log, duckdb=built.duckdb)
    yield srv
    srv.stop()
    rs.stop()


def _run_cases(
    server: ServerProcess,
    operation: Any,
    mode: Any,
    n: int,
    checks: list[Any],
    statuses: collections.Counter[str],
    failures: list[str],
) -> None:
    """`n` generated cases of one operation in one mode, each checked; failures collected."""
    where = f"{operation.method.upper()} {operation.path} ({mode.value})"

    @settings(
        max_examples=n,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call(base_url=server.url, timeout=60)
        code = response.status_code
        statuses[f"{operation.method.upper()} {operation.path} {code}"] += 1
        if code >= 500:
            error_code = ""
            try:
                error_code = response.json()["error"]["code"]
            except Exception:
                pass
            if code != 503 or error_code not in UNAVAILABLE_CODES:
                failures.append(f"{where}: {code} {response.text[:300]} for {case.body!r:.300}")
                return
        try:
            case.validate_response(response, checks=checks)
        except Exception as e:  # a schema violation: collected, every case still runs
            failures.append(f"{where}: {type(e).__name__}: {str(e)[:500]}")

    try:
        run()
    except Unsatisfiable:
        # negative mode of a route without any input (no body, no parameter): nothing to send
        assert mode.value == "negative" and not operation.body, where


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    schema_server: ServerProcess, record_property: Any
) -> None:
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [status_code_conformance, content_type_conformance, response_schema_conformance]
    schema = schemathesis.openapi.from_url(schema_server.url + "/openapi.json")
    statuses: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    paths = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        paths.add(operation.path)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            # the explain route reads DuckDB per call (slow): fewer cases there
            n = EXAMPLES // 5 if operation.path == "/explain" else EXAMPLES

            _run_cases(schema_server, operation, mode, n, checks, statuses, failures)
    operations = len(paths)
    total = sum(statuses.values())
    by_status = collections.Counter(key.rsplit(" ", 1)[1] for key in statuses.elements())
    summary = (
        f"schemathesis: {operations} operations, {total} cases, statuses "
        f"{dict(sorted(by_status.items()))}, {len(failures)} failures"
    )
    record_property("summary", summary)
    print(summary)
    for key, n in sorted(statuses.items()):
        print(f"  {key}: {n}")
    # every route (schemathesis leaves out the document it was loaded from, /openapi.json,
    # which test_server checks)
    assert paths >= {
        "/get-online-features",
        "/features",
        "/explain",
        "/livez",
        "/readyz",
        "/metrics",
    }
    assert total >= 4 * EXAMPLES  # every operation with inputs was exercised
    assert failures == [], "\n".join(failures[:20])
    assert "Traceback" not in schema_server.output()
