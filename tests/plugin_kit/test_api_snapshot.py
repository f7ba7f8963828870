"""The plugin-facing API is frozen: its snapshot must match the committed one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cstoolkit import api

SNAPSHOT = Path(__file__).with_name("api_v1_2.json")
#: The 1.1 surface: everything in it must still be there, unchanged (a 1.1 plugin keeps working).
SNAPSHOT_1_1 = Path(__file__).with_name("api_v1_1.json")
#: The 1.0 surface: everything in it must still be there, unchanged (a 1.0 plugin keeps working).
SNAPSHOT_1_0 = Path(__file__).with_name("api_v1.json")
#: 1.0 entries that changed compatibly in 1.1 (old value -> new value).
COMPATIBLE_CHANGES = {
    "api_version": ('"1.0"', '"1.2"'),
    # PluginBase became generic over its typed settings class (still a plain base class).
    "cstoolkit.plugin.PluginBase.bases": ('["object"]', '["Generic"]'),
}


def _flatten(data: object, prefix: str = "") -> dict[str, str]:
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(data)}


def test_public_signatures_match_the_committed_snapshot() -> None:
    committed = _flatten(json.loads(SNAPSHOT.read_text()))
    current = _flatten(json.loads(json.dumps(api.snapshot())))
    changed = sorted(k for k in committed.keys() & current.keys() if committed[k] != current[k])
    removed = sorted(committed.keys() - current.keys())
    added = sorted(current.keys() - committed.keys())
    assert not (changed or removed or added), (
        "the frozen plugin API changed (docs/plugins/compatibility.md); if deliberate and "
        "compatible, regenerate: python -m cstoolkit.api > tests/plugin_kit/api_v1_2.json\n"
        + "\n".join(
            [f"changed: {k}: {committed[k]} -> {current[k]}" for k in changed[:20]]
            + [f"removed: {k}" for k in removed[:20]]
            + [f"added: {k}" for k in added[:20]]
        )
    )


def _params(signature: str) -> tuple[list[str], str]:
    """The parameters of a snapshot signature ``(a: 'int', b=1) -> 'str'`` and its return."""
    args, _, returns = signature.rpartition(" -> ")
    out, depth, part = [], 0, ""
    for ch in args[1:-1]:
        depth += (ch in "([{" and 1) or 0
        depth -= (ch in ")]}" and 1) or 0
        if ch == "," and depth == 0:
            out.append(part.strip())
            part = ""
        else:
            part += ch
    if part.strip():
        out.append(part.strip())
    return out, returns


def _only_optional_added(old: str, new: str) -> bool:
    """A signature or field list that keeps every old parameter, in order, and only adds
    parameters with defaults (or ``*args``/``**kwargs``) is a compatible change."""
    if old.startswith("["):  # dataclass fields
        old_items, new_items = json.loads(old), json.loads(new)
        return new_items[: len(old_items)] == old_items and all(
            " = " in f for f in new_items[len(old_items) :]
        )
    (old_p, old_r), (new_p, new_r) = _params(json.loads(old)), _params(json.loads(new))
    kept = [p for p in new_p if p in old_p]
    added = [p for p in new_p if p not in old_p]
    return old_r == new_r and kept == old_p and all(" = " in p or p.startswith("*") for p in added)


@pytest.mark.parametrize(
    ("snapshot", "compatible"),
    [
        (SNAPSHOT_1_0, COMPATIBLE_CHANGES),
        (SNAPSHOT_1_1, {"api_version": ('"1.1"', '"1.2"')}),
    ],
    ids=["1.0", "1.1"],
)
def test_every_older_api_entry_is_still_there_unchanged(
    snapshot: Path, compatible: dict[str, tuple[str, str]]
) -> None:
    old = _flatten(json.loads(snapshot.read_text()))
    current = _flatten(json.loads(json.dumps(api.snapshot())))
    broken = []
    for key, value in old.items():
        if key.endswith(".attributes") and key in current:
            # declarative attributes may only be added
            if not set(json.loads(value)) <= set(json.loads(current[key])):
                broken.append(key)
            continue
        new = current.get(key)
        if new == value or compatible.get(key) == (value, new):
            continue
        signature = ".methods." in key or key.endswith(".fields")
        if new is not None and signature and _only_optional_added(value, new):
            continue
        broken.append(key)
    assert not broken, f"API {snapshot.name} surface changed incompatibly: {broken[:20]}"


def test_snapshot_covers_protocols_hooks_http_state_and_errors() -> None:
    snap = api.snapshot()
    assert snap["api_version"] == api.API_VERSION == "1.2"
    backend = snap["cstoolkit.plugin"]["Backend"]["methods"]
    assert {"pull", "apply", "create", "fetch", "find_by_marker", "check", "close"} <= set(backend)
    assert "since" in backend["pull"] and "full" in backend["pull"]
    assert {"send", "lookup", "address"} <= set(snap["cstoolkit.plugin"]["Channel"]["methods"])
    assert "compose" in snap["cstoolkit.plugin"]["SurveyProvider"]["methods"]
    assert len(snap["cstoolkit.hookspecs"]) == 9
    assert "pull" in snap["cstoolkit.plugin"]["KnowledgeSource"]["methods"]
    assert "parse" in snap["cstoolkit.inbound_source"]["InboundSource"]["methods"]
    assert "from_settings" in snap["cstoolkit.http"]["HttpClient"]["methods"]
    assert {"get", "set", "delete", "keys"} <= set(
        snap["cstoolkit.store.kv"]["KeyValue"]["methods"]
    )
    assert snap["cstoolkit.errors"]["ConflictError"] == {"bases": ["BackendError"], "exit_code": 1}


def test_a_changed_signature_is_detected(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from cstoolkit.plugin import Backend

    def create(self, ticket, *, extra):  # type: ignore[no-untyped-def]  # a breaking change
        raise NotImplementedError

    before = api.snapshot()["cstoolkit.plugin"]["Backend"]["methods"]["create"]
    monkeypatch.setattr(Backend, "create", create)
    after = api.snapshot()["cstoolkit.plugin"]["Backend"]["methods"]["create"]
    assert before != after


def test_only_optional_additions_count_as_compatible() -> None:
    old = json.dumps("(self, a: 'int', b: 'str' = 'x') -> 'None'")
    ok = json.dumps("(self, a: 'int', b: 'str' = 'x', *, c: 'int' = 1) -> 'None'")
    assert _only_optional_added(old, ok)
    for bad in (
        "(self, a: 'int') -> 'None'",  # b removed
        "(self, a: 'int', b: 'str' = 'x', c: 'int') -> 'None'",  # a required addition
        "(self, a: 'str', b: 'str' = 'x') -> 'None'",  # a's type changed
        "(self, a: 'int', b: 'str' = 'x') -> 'int'",  # another return
    ):
        assert not _only_optional_added(old, json.dumps(bad)), bad
    fields = json.dumps(["name: str", "help: str = ..."])
    assert _only_optional_added(fields, json.dumps([*json.loads(fields), "minimum: int = ..."]))
    assert not _only_optional_added(fields, json.dumps([*json.loads(fields), "minimum: int"]))
