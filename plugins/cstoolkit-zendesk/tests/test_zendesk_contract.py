"""Contract check: the requests the zendesk plugin sends, against Zendesk's published OpenAPI.

The specs are the shared copies in ``../shared/specs`` beside the checkout (or ``$CSTOOLKIT_SPECS``,
see :func:`specs_candidates`; without them the tests skip, saying where to put them): the
incremental split made Prism-ready and the tickets split. A small matcher checks every recorded
request: the path matches a spec path (the spec writes no ``.json`` suffix; the live API accepts
both), the method exists there, every query parameter is declared (or listed in AMENDMENTS with the
vendor documentation that adds it), values fit the declared schema, and the Authorization header
uses one of the spec's security schemes (HTTP basic ``{email}/token:{token}`` or bearer).
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from zendesk_fake import EMAIL, OAUTH, FakeZendesk, make_backend

from cstoolkit.plugin import Changes, Comment, NewTicket

SPEC_FILES = ("zendesk-incremental.prism-ready.yml", "zendesk-tickets.from-api-evangelist.yml")

#: Query parameters Zendesk documents outside its OAS (each with where it is documented).
AMENDMENTS: dict[tuple[str, str], dict[str, dict[str, Any]]] = {
    ("GET", "/api/v2/incremental/tickets/cursor"): {
        # "Sideloading: see Tickets sideloads" in the operation's own description
        "include": {"type": "string"},
        # Incremental exports: per_page up to 1000 (the OAS declares it on users/cursor only)
        "per_page": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
    ("GET", "/api/v2/incremental/ticket_events"): {
        # "You can include comments in the event stream by using the comment_events sideload"
        "include": {"type": "string", "enum": ["comment_events"]},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 1000},
    },
}

#: Endpoints the plugin uses that the shared spec splits do not cover (users, show_many).
NOT_IN_SHARED_SPECS = {
    ("GET", "/api/v2/users/me"),
    ("GET", "/api/v2/users/show_many"),
    ("GET", "/api/v2/tickets/show_many"),
    # a requester known only by phone: Search (users) and Create/Show User
    ("GET", "/api/v2/search"),
    ("POST", "/api/v2/users"),
    ("GET", "/api/v2/users/{id}"),
}


SPECS_ENV = "CSTOOLKIT_SPECS"


def repo_root() -> Path | None:
    """The checkout this file is in: the nearest directory holding cstoolkit's pyproject.toml."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "cstoolkit").is_dir():
            return parent
    return None


def specs_candidates() -> list[Path]:
    """Where the specs are looked for, in order: ``$CSTOOLKIT_SPECS`` alone when it is set;
    otherwise ``shared/specs`` beside the checkout (``<repo>/../shared/specs``) or beside any
    directory above it (a git worktree's checkout sits deeper than the clone)."""
    env = os.environ.get(SPECS_ENV)
    if env:
        return [Path(env)]
    return [p / "shared" / "specs" for p in Path(__file__).resolve().parents[1:]]


def specs_dir() -> Path | None:
    for candidate in specs_candidates():
        if all((candidate / name).is_file() for name in SPEC_FILES):
            return candidate
    return None


def where_specs_go() -> tuple[str, str]:
    """Where the specs were looked for, and how to provide them (for the skip message)."""
    root = repo_root()
    beside = root.parent / "shared" / "specs" if root else Path("../shared/specs")
    where = os.environ.get(SPECS_ENV)
    looked = f"{SPECS_ENV}={where}" if where else f"{beside} and the directories above"
    how = f"put {' and '.join(SPEC_FILES)} in {beside}, or set {SPECS_ENV}=/path/to/specs"
    return looked, how


@dataclass
class Operation:
    method: str
    template: str
    regex: re.Pattern[str]
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)


@dataclass
class Spec:
    operations: list[Operation]
    schemes: set[str]

    def find(self, method: str, path: str) -> Operation | None:
        path = path.removesuffix(".json")
        for op in self.operations:
            if op.method == method and op.regex.fullmatch(path):
                return op
        return None


def _resolve(doc: dict[str, Any], param: dict[str, Any]) -> dict[str, Any] | None:
    ref = param.get("$ref")
    if ref is None:
        return param
    node: Any = doc
    for part in ref.lstrip("#/").split("/"):
        if not isinstance(node, dict) or part not in node:
            return None  # a dangling $ref (the third-party split has some): path ids only
        node = node[part]
    return node if isinstance(node, dict) else None


def load_spec(directory: Path) -> Spec:
    operations: list[Operation] = []
    schemes: set[str] = set()
    seen: set[tuple[str, str]] = set()
    for name in SPEC_FILES:
        doc = yaml.safe_load((directory / name).read_text("utf-8"))
        for scheme in (doc.get("components") or {}).get("securitySchemes", {}).values():
            schemes.add(str(scheme.get("scheme")))
        for template, item in (doc.get("paths") or {}).items():
            shared = item.get("parameters") or []
            for method, op in item.items():
                if method == "parameters" or not isinstance(op, dict):
                    continue
                key = (method.upper(), template)
                if key in seen:
                    continue  # the first file wins (the Prism-ready one has the refs filled)
                seen.add(key)
                regex = re.compile(re.sub(r"\{[^}]+\}", r"[^/]+", template))
                operation = Operation(method.upper(), template, regex)
                for raw in [*shared, *(op.get("parameters") or [])]:
                    param = _resolve(doc, raw)
                    if param and param.get("in") == "query":
                        operation.query[param["name"]] = param.get("schema") or {}
                        if param.get("required"):
                            operation.required.add(param["name"])
                operations.append(operation)
    return Spec(operations, schemes)


def _fits(value: str, schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return f"{value!r} is not an integer"
        number = int(value)
        if "minimum" in schema and number < schema["minimum"]:
            return f"{number} < minimum {schema['minimum']}"
        if "maximum" in schema and number > schema["maximum"]:
            return f"{number} > maximum {schema['maximum']}"
    if "enum" in schema and value not in [str(v) for v in schema["enum"]]:
        return f"{value!r} not in {schema['enum']}"
    return None


def check(spec: Spec, request: httpx.Request) -> list[str]:
    """Every way ``request`` departs from the spec (empty: it conforms)."""
    problems: list[str] = []
    path = request.url.path
    op = spec.find(request.method, path)
    bare = path.removesuffix(".json")
    bare_template = re.sub(r"/\d+", "/{id}", bare)
    if op is None:
        if (request.method, bare_template) not in NOT_IN_SHARED_SPECS:
            problems.append(f"{request.method} {path}: no such operation in the spec")
        return problems
    declared = dict(op.query)
    declared.update(AMENDMENTS.get((op.method, op.template), {}))
    params = dict(request.url.params)
    for name, value in params.items():
        if name not in declared:
            problems.append(f"{request.method} {op.template}: undeclared query parameter {name!r}")
            continue
        why = _fits(value, declared[name])
        if why:
            problems.append(f"{request.method} {op.template}: {name}: {why}")
    auth = request.headers.get("authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() not in spec.schemes:
        problems.append(f"{request.method} {op.template}: auth scheme {scheme!r} not in spec")
    elif scheme == "Basic":
        user = base64.b64decode(credentials).decode().split(":", 1)[0]
        if not re.fullmatch(r"[^/\s]+@[^/\s]+/token", user):
            problems.append(f"basic auth user {user!r} is not '{{email}}/token'")
    if request.method in ("PUT", "POST"):
        body = json.loads(request.content or b"null")
        if not (isinstance(body, dict) and isinstance(body.get("ticket"), dict)):
            problems.append(f"{request.method} {op.template}: body is not {{'ticket': {{...}}}}")
    return problems


@pytest.fixture(scope="module")
def spec() -> Spec:
    directory = specs_dir()
    if directory is None:
        looked, how = where_specs_go()
        pytest.skip(f"Zendesk's OpenAPI specs not found (looked in {looked}); to enable: {how}")
    return load_spec(directory)


@pytest.fixture
def fake() -> Iterator[FakeZendesk]:
    zd = FakeZendesk(tickets=12)
    with zd.mounted():
        yield zd


def exercise(backend: Any) -> None:
    pages = list(backend.pull(None))
    list(backend.pull(pages[-1].cursor))
    backend.check()
    backend.apply(
        "3",
        Changes(
            status="solved",
            add_tags=["x"],
            comments=[Comment("done", public=True)],
            expected_updated_at=None,
        ),
    )
    ticket = backend.fetch("3")
    backend.apply("3", Changes(priority="urgent", expected_updated_at=ticket.updated_at))
    backend.create(NewTicket(subject="s", description="d", marker="m-contract"))
    backend.find_by_marker("m-contract")
    phone = NewTicket(subject="s", description="d", requester_phone="+34600111222")
    created = backend.create(phone)
    backend.create(phone)  # the remembered end user, checked
    backend.apply(created, Changes(comments=[Comment("mine", from_requester=True)]))


def test_every_request_of_the_plugin_conforms(spec: Spec, fake: FakeZendesk) -> None:
    fake.users[3] = {"id": 3, "name": "Cy", "role": "admin", "organization_id": None}
    fake.update(1, {}, comment={"body": "note", "public": False}, author=3)
    exercise(make_backend(fake, page_size=5, filters={"group": ["10", "11"]}))
    exercise(make_backend(fake, email=None, token=None, oauth_token=OAUTH))
    problems = [p for r in fake.requests for p in check(spec, r)]
    assert problems == []
    used = {
        (op.method, op.template)
        for r in fake.requests
        if (op := spec.find(r.method, r.url.path)) is not None
    }
    assert used >= {
        ("GET", "/api/v2/incremental/tickets/cursor"),
        ("GET", "/api/v2/incremental/ticket_events"),
        ("GET", "/api/v2/tickets/{ticket_id}"),
        ("PUT", "/api/v2/tickets/{ticket_id}"),
        ("POST", "/api/v2/tickets"),
        ("GET", "/api/v2/tickets"),
    }
    first = next(r for r in fake.requests if r.url.path.endswith("cursor.json"))
    assert int(first.url.params["start_time"]) >= 0


def test_the_matcher_catches_departures(spec: Spec) -> None:
    def request(url: str, auth: str = "Bearer x", method: str = "GET") -> httpx.Request:
        return httpx.Request(method, url, headers={"Authorization": auth})

    base = "https://acme.zendesk.com"
    assert check(spec, request(f"{base}/api/v2/incremental/tickets/cursor.json?start_time=5")) == []
    assert check(spec, request(f"{base}/api/v2/incremental/tickets/cursor?per_page=5000"))
    assert check(spec, request(f"{base}/api/v2/incremental/tickets/cursor.json?start_time=soon"))
    assert check(spec, request(f"{base}/api/v2/incremental/tickets/cursor.json?page=2"))
    assert check(spec, request(f"{base}/api/v2/incremental/widgets.json"))
    assert check(spec, request(f"{base}/api/v2/tickets/1.json", method="PATCH"))
    assert check(spec, request(f"{base}/api/v2/tickets/1.json", auth="Token token=x"))
    basic = "Basic " + base64.b64encode(f"{EMAIL}:password".encode()).decode()
    assert check(spec, request(f"{base}/api/v2/tickets/1.json", auth=basic))
