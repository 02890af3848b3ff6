"""docs/openapi.yaml describes what stepup-fcgi serves: it is a valid
OpenAPI 3.1 document, its operations are exactly the routes of the route
table (src/fcgi/dispatch.c, matched by src/fcgi/router.c), and the checker
that validates every answer of the integration suite against it
(openapi_check.py) can fail.

Debian 12 packages no OpenAPI validator (no python3-openapi-spec-validator),
so the document's structure is checked here and each of its schemas with
jsonschema's metaschema check (Draft 2020-12, OpenAPI 3.1's dialect)."""

import re

import jsonschema
import pytest

import openapi_check
from conftest import ROOT

ROUTE_TABLE = ROOT / "src" / "fcgi" / "dispatch.c"
REQUEST_C = ROOT / "src" / "fcgi" / "request.c"
UUID = "0b5c6c1e-1111-4222-8333-444455556666"
JSON = {"request-ref": UUID, "Content-Type": "application/json"}


def doc():
    return openapi_check.document()


def operations():
    for template, item in doc()["paths"].items():
        for method in openapi_check.METHODS:
            if method in item:
                yield template, item, method, item[method]


def route_table():
    """(method, pattern) of every entry of stepup_routes[]."""
    text = ROUTE_TABLE.read_text()
    m = re.search(r"const struct route stepup_routes\[\] = \{(.*?)\n\};", text, re.S)
    assert m, f"no stepup_routes[] in {ROUTE_TABLE}"
    routes = re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', m.group(1))
    assert len(routes) >= 8, routes
    return routes


def documented_routes():
    """(method, pattern) of every operation, written as the route table
    writes it: "{name?}" for a parameter that may be empty."""
    out = []
    for template, item, method, op in operations():
        params = openapi_check.path_parameters(item, op)
        pattern = re.sub(r"\{([^}]+)\}",
                         lambda m: "{%s%s}" % (m.group(1), "?" if params[m.group(1)].get(
                             "x-stepup-empty-allowed") else ""), template)
        out.append((method.upper(), pattern))
    return out


def all_refs(node, where="#"):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from all_refs(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_refs(v, f"{where}/{i}")


def all_schemas(node, where="#"):
    """Every Schema Object of the document: components/schemas' and each
    "schema" of a parameter, header or media type."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "schema" and isinstance(v, dict):
                yield f"{where}/{k}", v
            elif k == "schemas" and where == "#/components":
                for name, s in v.items():
                    yield f"{where}/schemas/{name}", s
            else:
                yield from all_schemas(v, f"{where}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from all_schemas(v, f"{where}/{i}")


def test_the_document_is_openapi_3_1():
    d = doc()
    assert re.match(r"^3\.1\.\d+$", str(d["openapi"])), d["openapi"]
    assert isinstance(d["info"]["title"], str) and isinstance(d["info"]["version"], str)
    assert set(d) <= {"openapi", "info", "jsonSchemaDialect", "servers", "paths", "webhooks",
                      "components", "security", "tags", "externalDocs"} | \
        {k for k in d if k.startswith("x-")}, set(d)
    ids = [op["operationId"] for _, _, _, op in operations()]
    assert len(ids) == len(set(ids)), ids
    schemes = set(d["components"]["securitySchemes"])
    for template, item, method, op in operations():
        assert template.startswith("/"), template
        assert op["responses"], (template, method)
        for status in op["responses"]:
            assert re.match(r"^[1-5][0-9][0-9]$", str(status)), (template, method, status)
        for requirement in op.get("security", []):
            assert set(requirement) <= schemes, (template, method, requirement)
        # Every template parameter is a required path parameter, and back.
        params = openapi_check.path_parameters(item, op)
        names = set(re.findall(r"\{([^}]+)\}", template))
        assert names == set(params), (template, method, names, set(params))
        assert all(p.get("required") is True for p in params.values()), (template, method)
    assert d["x-stepup-authorizer"]["responses"], "the gate is documented"


def test_every_ref_resolves():
    refs = list(all_refs(doc()))
    assert refs
    for where, ref in refs:
        try:
            openapi_check.follow(ref)
        except (KeyError, AssertionError) as e:
            pytest.fail(f"{where}: $ref {ref} does not resolve ({e})")


def test_every_schema_is_a_valid_2020_12_schema():
    schemas = list(all_schemas(doc()))
    assert len(schemas) > 20
    for where, schema in schemas:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            pytest.fail(f"{where}: {e.message}")


def test_fixed_bodies_admit_no_other_member():
    schemas = doc()["components"]["schemas"]
    for name in ("Error", "InvalidFields", "InvalidField", "LoginResponse", "Factors", "Health",
                 "StepupIssueConflict", "StepupVerifyConflict", "EnrolConflict",
                 "EnrolVerifyConflict"):
        assert schemas[name].get("additionalProperties") is False, name


def test_the_document_and_the_route_table_have_the_same_routes():
    table = route_table()
    documented = documented_routes()
    assert len(documented) == len(set(documented)), documented
    missing = set(table) - set(documented)
    assert not missing, f"routes of {ROUTE_TABLE.name} that docs/openapi.yaml lacks: {missing}"
    extra = set(documented) - set(table)
    assert not extra, f"operations of docs/openapi.yaml that {ROUTE_TABLE.name} lacks: {extra}"


def test_every_header_stepup_reads_is_documented():
    """The HTTP_* parameters request.c reads are header parameters of the
    document or its security schemes (Authorization: bearerAuth)."""
    read = {m.replace("_", "-").lower()
            for m in re.findall(r'"HTTP_([A-Z_]+)"', REQUEST_C.read_text())}
    assert {"api-key", "authorization", "idempotency-ref"} <= read, read
    d = doc()
    documented = {p["name"].lower() for p in d["components"]["parameters"].values()
                  if p["in"] == "header"}
    for scheme in d["components"]["securitySchemes"].values():
        if scheme["type"] == "apiKey" and scheme["in"] == "header":
            documented.add(scheme["name"].lower())
        if scheme["type"] == "http":
            documented.add("authorization")
    assert read <= documented, f"headers request.c reads that are not documented: " \
        f"{read - documented}"


@pytest.mark.parametrize("method, path, status, headers, raw", [
    ("GET", "/health", 200, JSON, b'{"status":"ok"}'),
    ("POST", "/logout", 204, {"request-ref": UUID}, b""),
    ("POST", "/stepup/challenges/otp/EMAIL", 400, JSON,
     b'{"message":"Invalid request","syntaxErrors":{"invalidFields":'
     b'[{"params":[],"fieldName":"channel","error":"NOT_IN"}]}}'),
    ("POST", "/stepup/challenges/otp//verify", 400, JSON,
     b'{"message":"Invalid request","syntaxErrors":{"invalidFields":'
     b'[{"params":[],"fieldName":"channel","error":"REQUIRED"}]}}'),
    ("POST", "/stepup/challenges/otp/", 404, JSON,
     b'{"code":"NOT_FOUND","message":"No such resource"}'),
    ("POST", "/stepup/challenges/otp/SMS", 409, JSON, b'{"errorCode":"RETRY_IN_15SEC"}'),
    ("GET", "/legacy/", 403, JSON, b'{"code":"STEP_UP_REQUIRED","message":"Step up first"}'),
    ("GET", "/metrics", 200, {"request-ref": UUID, "Content-Type": "text/plain; version=0.0.4"},
     b"# TYPE x counter\nx 1\n"),
])
def test_the_checker_accepts_documented_answers(method, path, status, headers, raw):
    openapi_check.check(method, path, status, headers, raw)


@pytest.mark.parametrize("method, path, status, headers, raw, why", [
    ("GET", "/health", 200, JSON, b'{"status":"ok","extra":1}', "Additional properties"),
    ("GET", "/health", 200, JSON, b'{"status":"fine"}', "'ok' was expected"),
    ("GET", "/health", 201, JSON, b'{"status":"ok"}', "does not document"),
    ("POST", "/stepup/challenges/otp/SMS", 409, JSON, b'{"errorCode":"NO_SUCH_CODE"}',
     "is not one of"),
    ("POST", "/stepup/challenges/otp/SMS", 409, JSON,
     b'{"code":"RETRY_IN_15SEC","message":"x"}', "errorCode"),
    ("POST", "/authentication_factors/otp/SMS/verify", 409, JSON,
     b'{"errorCode":"CHANNEL_NOT_REGISTERED"}', "is not one of"),
    ("POST", "/login_with_password", 403, JSON, b'{"code":"FORBIDDEN","message":"Wrong password"}',
     "Invalid credentials"),
    ("POST", "/logout", 204, {"request-ref": UUID}, b"{}", "no body documented"),
    ("GET", "/logout", 405, JSON, b'{"code":"METHOD_NOT_ALLOWED","message":"x"}', "Allow"),
    ("GET", "/health", 200, {"request-ref": UUID, "Content-Type": "text/html"},
     b'{"status":"ok"}', "Content-Type"),
    ("GET", "/metrics", 200, {"request-ref": UUID, "Content-Type": "text/plain"}, b"x 1\n",
     "Content-Type"),
    ("GET", "/legacy/", 403, JSON, b'{"code":"NOT_FOUND","message":"x"}', "is not one of"),
])
def test_the_checker_refuses_a_wrong_answer(method, path, status, headers, raw, why):
    with pytest.raises(AssertionError, match=re.escape(why)):
        openapi_check.check(method, path, status, headers, raw)
