import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from rest_framework.test import APIClient


def test_schema_generates_without_warnings(tmp_path):
    # --fail-on-warn turns every drf-spectacular warning (an untyped field, an unknown
    # path parameter...) into a failure; --validate checks it against the OpenAPI spec.
    out = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(out),
    )
    schema = json.loads(out.read_text())
    paths = schema["paths"]
    assert "/api/v1/access-requests/{id}/approve/" in paths
    assert "/api/v1/reports/who-has-access/" in paths
    export = paths["/api/v1/reports/who-has-access/"]["get"]
    assert set(export["responses"]["200"]["content"]) == {
        "application/json",
        "text/csv",
        "application/jsonl",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }
    assert "put" not in paths["/api/v1/access-groups/{id}/"]


def test_schema_is_served(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/memberships/" in response.content


def test_docs_load_offline(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the docs page references no assets"
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], (
        "the docs load assets from the network"
    )
    static = [a for a in assets if a.startswith("/static/")]
    assert any(a.endswith("swagger-ui-bundle.js") for a in static)
    for asset in static:
        assert finders.find(asset.removeprefix("/static/")), (
            f"{asset} is not served by this install"
        )


# --- The schema tells the truth (accessgroups.api.openapi) ----------------------------------


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    out = tmp_path_factory.mktemp("schema") / "schema.json"
    call_command("spectacular", "--format", "openapi-json", "--file", str(out))
    return json.loads(out.read_text())


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


# The actions whose views list them in conflict_actions: a status that refuses them
# (Conflict, InvalidTransition) or a constraint that catches a race answers 409.
CONFLICTS = {
    "POST /api/v1/users/",
    "POST /api/v1/users/{id}/retry/",
    "POST /api/v1/accounts/",
    "POST /api/v1/access-groups/",
    "PATCH /api/v1/access-groups/{id}/",
    "DELETE /api/v1/access-groups/{id}/",
    "POST /api/v1/access-groups/{id}/retry/",
    "POST /api/v1/change-requests/",
    "POST /api/v1/change-requests/{id}/approve/",
    "POST /api/v1/change-requests/{id}/reject/",
    "POST /api/v1/change-requests/{id}/withdraw/",
    "POST /api/v1/access-requests/",
    "POST /api/v1/access-requests/{id}/approve/",
    "POST /api/v1/access-requests/{id}/reject/",
    "POST /api/v1/access-requests/{id}/cancel/",
    "POST /api/v1/access-requests/{id}/revoke/",
    "POST /api/v1/access-requests/{id}/acknowledge/",
    "POST /api/v1/memberships/",
    "POST /api/v1/memberships/{id}/revoke/",
    "POST /api/v1/memberships/{id}/retry/",
    "POST /api/v1/access-reviews/{review_pk}/items/{id}/keep/",
    "POST /api/v1/access-reviews/{review_pk}/items/{id}/revoke/",
}


def test_every_reference_names_a_component(schema):
    # ReDoc and generated clients stop at a $ref that leads nowhere.
    refs = set()

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.add(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    components = {f"#/components/schemas/{name}" for name in schema["components"]["schemas"]}
    assert refs and refs <= components, sorted(refs - components)


def test_every_operation_lists_the_shared_refusals(schema):
    error = {"$ref": "#/components/schemas/Error"}
    invalid = {"$ref": "#/components/schemas/ValidationError"}
    for name, operation in operations(schema):
        responses = operation["responses"]
        assert {"400", "401", "403", "404", "406", "429"} <= responses.keys(), name

        def body(code, responses=responses):
            return responses[code]["content"]["application/json"]["schema"]

        assert body("400") == {"anyOf": [invalid, error]}, name
        for code in ("401", "403", "404", "406", "429"):
            assert body(code) == error, (name, code)
        assert "Retry-After" in responses["429"]["headers"], name
        assert ("409" in responses) == (name in CONFLICTS), name
        if "409" in responses:
            assert body("409") == {"anyOf": [error, invalid]}, name
        assert ("415" in responses) == ("requestBody" in operation), name


def test_the_conflict_list_names_real_operations(schema):
    assert CONFLICTS <= {name for name, _ in operations(schema)}


def test_error_components(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    values = components["ValidationError"]["additionalProperties"]["anyOf"]
    assert {"type": "array", "items": {"type": "string"}} in values
    assert {"$ref": "#/components/schemas/ValidationError"} in values


def test_writes_that_leave_aws_work_running_list_202(schema):
    paths = schema["paths"]
    for path, method in [
        ("/api/v1/users/", "post"),
        ("/api/v1/users/{id}/deactivate/", "post"),
        ("/api/v1/accounts/sync/", "post"),
        ("/api/v1/drift/scan/", "post"),
        ("/api/v1/access-groups/", "post"),
        ("/api/v1/access-groups/{id}/", "patch"),
        ("/api/v1/access-groups/{id}/", "delete"),
        ("/api/v1/access-requests/{id}/approve/", "post"),
        ("/api/v1/access-requests/{id}/cancel/", "post"),
        ("/api/v1/memberships/", "post"),
        ("/api/v1/memberships/{id}/revoke/", "post"),
        ("/api/v1/access-reviews/{review_pk}/items/{id}/revoke/", "post"),
    ]:
        assert "202" in paths[path][method]["responses"], (method, path)


def test_bodies_are_json(schema):
    for name, operation in operations(schema):
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], name


def test_fields_that_can_be_blank_say_so(schema):
    components = schema["components"]["schemas"]
    blank = {"$ref": "#/components/schemas/BlankEnum"}
    assert components["BlankEnum"] == {"enum": [""]}
    assert blank in components["MembershipOut"]["properties"]["end_reason"]["oneOf"]
    assert blank in components["ReviewItemOut"]["properties"]["outcome"]["oneOf"]
    assert blank in components["DriftFindingOut"]["properties"]["resolution"]["oneOf"]
    # Emails that may be "" (an account added by hand, a superuser made without one).
    for name in ("AccountOut", "UserOut"):
        assert "format" not in components[name]["properties"]["email"], name
    account_email = components["AccountInRequest"]["properties"]["email"]
    assert re.fullmatch(account_email["pattern"], "")
    assert re.fullmatch(account_email["pattern"], "root@example.com")


def test_query_filters_are_typed(schema):
    def parameters(path):
        return {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}

    audit = parameters("/api/v1/audit-events/")
    assert audit["since"] == audit["until"] == {"type": "string", "format": "date-time"}
    assert audit["actor"]["maxLength"] == 150
    requests = parameters("/api/v1/access-requests/")
    assert requests["access_group"] == {"type": "integer", "minimum": 0, "maximum": 10**18 - 1}
    assert "pending" in requests["status"]["enum"]
    assert requests["page"]["minimum"] == 1
    assert parameters("/api/v1/access-groups/")["archived"]["enum"] == ["all", "false", "true"]
    report = parameters("/api/v1/reports/who-has-access/")
    assert report["cursor"] == {"type": "string"}
    assert report["page"]["minimum"] == 1


def test_real_refusals_match_their_schemas(schema, api, dave, alice, readonly):
    from jsonschema import Draft202012Validator

    # The error bodies are plain JSON Schema (no OpenAPI nullable) with references into the
    # document's components, which a validator of the whole document resolves.
    document = Draft202012Validator(schema)

    def check(response, code, operation):
        path, method = operation
        assert response.status_code == int(code), response.content
        body_schema = schema["paths"][path][method]["responses"][code]["content"][
            "application/json"
        ]["schema"]
        document.evolve(schema=body_schema).validate(response.json())

    nested = {"name": "Ops", "customer_managed_policies": [{"name": "ok"}, {"name": "bad name"}]}
    check(
        api(dave).post("/api/v1/access-groups/", nested, format="json"),
        "400",
        ("/api/v1/access-groups/", "post"),
    )
    unreadable = api(dave).post(
        "/api/v1/access-groups/", "{", content_type="application/json"
    )
    check(unreadable, "400", ("/api/v1/access-groups/", "post"))
    check(api(None).get("/api/v1/users/"), "401", ("/api/v1/users/", "get"))
    check(api(alice).get("/api/v1/users/"), "403", ("/api/v1/users/", "get"))
    check(api(dave).get("/api/v1/users/424242/"), "404", ("/api/v1/users/{id}/", "get"))
    check(
        api(dave).post(f"/api/v1/access-groups/{readonly.pk}/retry/"),
        "409",
        ("/api/v1/access-groups/{id}/retry/", "post"),
    )
    body = {"access_group": readonly.pk, "justification": "on call"}
    api(alice).post("/api/v1/access-requests/", body, format="json")
    check(
        api(alice).post("/api/v1/access-requests/", body, format="json"),
        "409",
        ("/api/v1/access-requests/", "post"),
    )
    check(
        api(dave).post("/api/v1/accounts/", "x", content_type="text/plain"),
        "415",
        ("/api/v1/accounts/", "post"),
    )
    check(
        api(dave).get("/api/v1/users/", HTTP_ACCEPT="application/xml"),
        "406",
        ("/api/v1/users/", "get"),
    )
