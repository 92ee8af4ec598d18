"""The REST API's OpenAPI description: it validates, an anonymous client can read it, and schemathesis,
run against the live server with a PI's token, finds no server error and no response that breaks the
schema on any operation."""

from __future__ import annotations

import io
import json
import os
import re

import pytest
from django.core.management import call_command

from tests.conftest import needs_dataset


def _schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


@pytest.mark.django_db
def test_the_schema_generates_without_warnings_and_validates(tmp_path):
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"),
                 stderr=out)
    assert "Warning" not in out.getvalue() and "Error" not in out.getvalue(), out.getvalue()


@pytest.mark.django_db
def test_an_anonymous_client_reads_the_schema_as_valid_openapi_3(client):
    from drf_spectacular.validation import validate_schema

    schema = _schema(client)
    validate_schema(schema)  # raises on anything OpenAPI 3.0 does not allow
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "PoseReview API"
    # ... yet the operations it lists still need a token or a session.
    assert client.get("/api/projects/").status_code in (401, 403)


@pytest.mark.django_db
def test_every_operation_has_a_described_response_and_its_parameters(client):
    schema = _schema(client)
    operations = [(path, method, op) for path, item in schema["paths"].items()
                  for method, op in item.items() if method in ("get", "post", "patch", "put", "delete")]
    assert len(operations) >= 45
    for path, method, op in operations:
        ok = [code for code in op["responses"] if code.startswith("2") or code == "304"]
        assert ok, f"{method.upper()} {path} documents no success response"
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), f"{method.upper()} {path}: {declared}"
    frames = schema["paths"]["/api/projects/{slug}/frames/"]["get"]
    assert {p["name"] for p in frames["parameters"]} >= {"split", "status", "clip", "limit", "offset"}
    assert {p["name"] for p in schema["paths"]["/api/projects/{slug}/models/"]["get"]["parameters"]} >= {"kind"}
    claim = schema["paths"]["/api/projects/{slug}/queues/{queue}/claim/"]["post"]
    assert "requestBody" in claim


@pytest.mark.django_db
def test_the_docs_pages_load_their_scripts_from_this_server_only(client):
    for url in ("/api/docs/", "/api/redoc/"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "<script>" not in html and "<style>" not in html, url  # nothing inline: the CSP would refuse it
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), url  # no CDN, no web fonts
        assert "script-src 'self'" in response["Content-Security-Policy"]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "/api/schema/" in script.content.decode()
    assert script["Content-Type"].startswith("application/javascript")


# -- schemathesis against the live server ---------------------------------------------------------

MAX_EXAMPLES = int(os.environ.get("POSEREVIEW_SCHEMATHESIS_EXAMPLES", 6))


@needs_dataset
@pytest.mark.django_db(transaction=True, databases=["default", "jobstate"])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(imported, users, live_server, client,
                                                                   monkeypatch):
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    from annotations.core import jobs
    from annotations.core.tokens import current_token
    from annotations.models import Annotation, Frame, Revision

    frame = Frame.objects.filter(project=imported, annotations__isnull=False).order_by("id").first()
    annotation = Annotation.objects.filter(frame=frame).first()
    revision = Revision.objects.filter(project=imported).order_by("id").first()
    # Path parameters that name something real half of the time (the other half: whatever was generated).
    real = {"slug": "demo", "frame_id": frame.pk, "annotation_id": annotation.pk, "key": frame.clip.key,
            "revision_id": revision.pk if revision else 1}

    # Jobs the API starts stay queued: this test is about the HTTP layer, not the workers.
    monkeypatch.setattr(jobs, "_enqueue", lambda spec, job: None)
    # Training tests earlier in the run switch the CPU to flush denormals to zero (mlcore's
    # seed_everything), which Hypothesis refuses to generate floats under; restore IEEE behaviour.
    import torch

    torch.set_flush_denormal(False)
    api = schemathesis.openapi.from_dict(_schema(client))
    failures: list[str] = []
    checked = 0
    succeeded: set[str] = set()  # operations that answered 2xx at least once: the schema was checked on real data
    for result in api.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), use_real=st.booleans())
        def run(case, use_real):
            nonlocal checked
            for name, value in real.items():
                if case.path_parameters and name in case.path_parameters and (use_real or name == "slug"):
                    case.path_parameters[name] = value
            # The token is read each time: DELETE /api/auth/token/ revokes it, the next read issues a new one.
            token = current_token(users["pi"]).key
            response = case.call(base_url=live_server.url, headers={"Authorization": f"Token {token}"},
                                 timeout=60)
            checked += 1
            if response.status_code < 300:
                succeeded.add(f"{case.method} {case.path}")
            try:
                case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
            except (Exception, BaseExceptionGroup) as exc:  # every failure is collected and reported together
                failures.append(f"{case.method} {case.formatted_path} -> {response.status_code}: "
                                f"{str(exc)[:600]}")

        run()
    assert checked > 45
    assert len(succeeded) >= 30, sorted(succeeded)
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n({len(failures)} failures)"
