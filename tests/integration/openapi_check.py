"""Validate an answer of stepup against docs/openapi.yaml.

``check(method, path, status, headers, raw)`` finds what the document says
of the request: the operation whose path template matches the path and
whose method is the request's, else the document's x-stepup-unrouted
answers (an unknown path: 404; a known path with another method: 405),
or, on a path the web server gates, the x-stepup-authorizer's.  It then
requires the status to be one of the operation's responses, the headers
that response marks required, its content type, and a JSON body valid
against its schema (JSON Schema 2020-12, which OpenAPI 3.1 schemas are;
python3-jsonschema validates, $refs resolve into the document).  A body
that is not JSON is checked for its content type only.  Failures raise
AssertionError, so that the test that received the answer fails.

Answers of the gated legacy application are not stepup's: on a gated
path, an answer without a request-ref (or a 200, which means that the
gate let the request through) is skipped.
"""

import json
import posixpath
import re
import urllib.parse
from functools import lru_cache
from pathlib import Path

import jsonschema
import yaml

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# The locations the stack's web server configurations gate with stepup's
# Authorizer role (httpd-conf/*.conf.in: /legacy and below), matched on the
# decoded, normalised path as the web servers match them.
GATED = re.compile(r"^/legacy(/|$)")


@lru_cache(maxsize=1)
def document():
    with open(DOCUMENT, encoding="utf-8") as f:
        return yaml.safe_load(f)


def pointer(*parts):
    """A JSON pointer (RFC 6901) of parts."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def follow(ref):
    """The node of the document a local $ref ("#/components/...") names."""
    assert ref.startswith("#/"), f"only local $refs are used: {ref}"
    node = document()
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(node):
    """node, or the node its $ref names (repeatedly)."""
    while isinstance(node, dict) and "$ref" in node:
        node = follow(node["$ref"])
    return node


@lru_cache(maxsize=None)
def validator(json_pointer):
    """A Draft 2020-12 validator of the schema at json_pointer in the
    document, whose $refs resolve against the whole document: through a
    referencing registry (jsonschema >= 4.18) or a RefResolver (Debian
    bookworm's 4.10)."""
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:
        resolver = jsonschema.RefResolver.from_schema(document())
        return jsonschema.Draft202012Validator({"$ref": "#" + json_pointer}, resolver=resolver)
    uri = "urn:stepup:openapi"
    registry = Registry().with_resource(uri, Resource(contents=document(),
                                                      specification=DRAFT202012))
    return jsonschema.Draft202012Validator({"$ref": uri + "#" + json_pointer},
                                           registry=registry)


def template_regex(template, parameters):
    """A regex of a path template: "{name}" one non-empty segment, or a
    possibly empty one when its parameter says x-stepup-empty-allowed (the
    route table's "{name?}")."""
    out, pos = "^", 0
    for m in re.finditer(r"\{([^}]+)\}", template):
        out += re.escape(template[pos:m.start()])
        p = parameters.get(m.group(1), {})
        out += "[^/]*" if p.get("x-stepup-empty-allowed") else "[^/]+"
        pos = m.end()
    return re.compile(out + re.escape(template[pos:]) + "$")


def path_parameters(path_item, operation):
    params = {}
    for p in path_item.get("parameters", []) + operation.get("parameters", []):
        p = deref(p)
        if p.get("in") == "path":
            params[p["name"]] = p
    return params


def find_operation(method, path):
    """(description, responses, JSON pointer of the responses) for a request."""
    doc = document()
    known_path = False
    for template, item in doc["paths"].items():
        for m in METHODS:
            if m not in item:
                continue
            if not template_regex(template, path_parameters(item, item[m])).match(path):
                continue
            known_path = True
            if m == method.lower():
                return (f"{method} {template}", item[m]["responses"],
                        pointer("paths", template, m, "responses"))
    which = "wrongMethod" if known_path else "unknownPath"
    return (f"{method} {path} ({which})", doc["x-stepup-unrouted"][which]["responses"],
            pointer("x-stepup-unrouted", which, "responses"))


def gated(path):
    """Whether the web server gates path: decoded and normalised first, as
    the web servers do before they match their locations."""
    p = urllib.parse.unquote(path.split("?", 1)[0])
    p = re.sub("/+", "/", p)
    norm = posixpath.normpath(p)
    if p.endswith("/") and norm != "/":
        norm += "/"
    return bool(GATED.match(norm))


def media_type_matches(documented, got):
    """got (a Content-Type header) is the documented media type, with at
    least its parameters (charset and the like may be added)."""
    def parse(value):
        parts = [p.strip() for p in value.split(";")]
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        return parts[0].lower(), {k.strip().lower(): v.strip().strip('"') for k, v in params.items()}
    dtype, dparams = parse(documented)
    gtype, gparams = parse(got)
    return dtype == gtype and all(gparams.get(k) == v for k, v in dparams.items())


def check(method, path, status, headers, raw):
    """Validate one answer (headers: an email.message.Message or a dict
    with .get; raw: the body, bytes or str).  Returns what it matched, for
    the tests of this module."""
    path_only = path.split("?", 1)[0].split("#", 1)[0]
    if gated(path_only):
        if status == 200 or headers.get("request-ref") is None:
            return "legacy application: not stepup's"
        where = "the gate"
        responses = document()["x-stepup-authorizer"]["responses"]
        base = pointer("x-stepup-authorizer", "responses")
    else:
        where, responses, base = find_operation(method, path_only)
    key = str(status)
    assert key in responses, \
        f"OpenAPI: {where} answered {status}, which docs/openapi.yaml does not document " \
        f"(documented: {', '.join(sorted(responses))}); body {raw[:200]!r}"
    response = responses[key]
    rpointer = base + pointer(key)
    while "$ref" in response:
        rpointer = response["$ref"][1:]
        response = follow(response["$ref"])

    for name, header in response.get("headers", {}).items():
        hpointer = rpointer + pointer("headers", name)
        while "$ref" in header:
            hpointer = header["$ref"][1:]
            header = follow(header["$ref"])
        value = headers.get(name)
        if header.get("required"):
            assert value is not None, f"OpenAPI: {where} {status} has no {name} header"
        if value is not None and "schema" in header:
            problems = [e.message for e in
                        validator(hpointer + pointer("schema")).iter_errors(value)]
            assert not problems, f"OpenAPI: {where} {status} header {name}: {value!r}: {problems}"

    body = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    content = response.get("content")
    ctype = headers.get("Content-Type")
    if not content:
        assert body == "", f"OpenAPI: {where} {status} has no body documented, got {body[:200]!r}"
        return where
    assert ctype is not None, f"OpenAPI: {where} {status} without a Content-Type"
    media = [m for m in content if media_type_matches(m, ctype)]
    assert media, f"OpenAPI: {where} {status}: Content-Type {ctype!r} is not one of {list(content)}"
    if media[0].split(";")[0].strip() != "application/json":
        return where  # not JSON: its content type is what is checked
    try:
        instance = json.loads(body)
    except ValueError as e:
        raise AssertionError(f"OpenAPI: {where} {status}: a body that is no JSON ({e}): "
                             f"{body[:200]!r}") from None
    v = validator(rpointer + pointer("content", media[0], "schema"))
    problems = sorted(v.iter_errors(instance), key=lambda e: list(e.absolute_path))
    assert not problems, f"OpenAPI: {where} {status}: {body[:300]} is not what " \
        f"docs/openapi.yaml documents: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}" for e in problems)
    return where
