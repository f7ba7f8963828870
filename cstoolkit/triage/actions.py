"""Recipe actions: what a rule's ``then`` does.

An action is an object with a ``name`` (its key in a recipe) and three methods:

``parse(args) -> params``
    check the arguments once, when the recipe is loaded; raise :class:`ArgError` (with the path
    inside the arguments) for bad ones. ``cst recipe check`` reports it at its file:line:column.
``run(params, ctx) -> str | None``
    act on one ticket through the :class:`ActionContext` (never on a backend directly): set
    fields, add a comment, queue a notification. Return a short description of what it did, or
    None when there was nothing to do.
``summary(params) -> str``
    one line for ``cst recipe graph``.

``idempotent = False`` (or ``once(params)`` returning True) marks an action that must not happen
twice for the same cause: the engine records it in the ledger under (recipe, rule, action,
ticket, resolution cycle) and skips it on every later run of that cycle. ``writes(params)`` names
the fields it may change (``cst recipe check`` uses it to tell which rules can affect which).

Plugins add actions with the ``register_actions`` hook::

    @hookimpl
    def register_actions(register):
        register(MyAction())      # an instance, or a class with a no-argument constructor
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cstoolkit.model import Priority, Status
from cstoolkit.triage.action_base import (
    TEMPLATE_NAMES,
    Action,
    ActionContext,
    ArgError,
)
from cstoolkit.triage.kb_actions import KB_ACTIONS

# -- helpers -----------------------------------------------------------------------------------


def _tags(args: Any) -> list[str]:
    items = [args] if isinstance(args, str) else args
    if not isinstance(items, list) or not items:
        raise ArgError("expected a tag or a list of tags")
    out = []
    for i, t in enumerate(items):
        if not isinstance(t, str | int) or isinstance(t, bool) or not str(t).strip():
            raise ArgError(f"a tag is a non-empty text, not {t!r}", (i,))
        if any(c.isspace() for c in str(t)):
            raise ArgError(f"a tag has no spaces: {t!r}", (i,))
        out.append(str(t))
    return out


def _template(args: Any, key: str = "template") -> Any:
    """A template: text, a table language -> text, or {template: ...}.

    Checked when the recipe is read: syntax, unknown names, and that it compiles within the
    sandbox's limits (:mod:`cstoolkit.templating`)."""
    from cstoolkit import templating

    value = args.get(key) if isinstance(args, Mapping) and key in args else args
    texts: list[tuple[tuple[str | int, ...], str]] = []
    if isinstance(value, str):
        texts = [((), value)]
    elif isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
        texts = [((str(k),), str(v)) for k, v in value.items()]
    else:
        raise ArgError("expected a template text, or a table language -> text")
    prefix: tuple[str | int, ...] = (key,) if isinstance(args, Mapping) and key in args else ()
    for at, text in texts:
        if not text.strip():
            raise ArgError("empty template", prefix + at)
        try:
            unknown = templating.undeclared(text, TEMPLATE_NAMES)
            templating.compile_template(text)
        except templating.TemplateError as exc:
            raise ArgError(exc.message, prefix + at) from None
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], TEMPLATE_NAMES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            names = ", ".join(TEMPLATE_NAMES)
            raise ArgError(
                f"unknown template variable '{unknown[0]}'{hint}; available: {names}",
                prefix + at,
            )
    return value


# -- built-ins ---------------------------------------------------------------------------------

_SETTABLE = ("priority", "status", "group", "assignee")


class SetAction(Action):
    name = "set"
    description = "Set priority, status, group, assignee or custom fields: {priority: high}."

    def parse(self, args: Any) -> dict[str, Any]:
        if not isinstance(args, Mapping) or not args:
            raise ArgError("expected a mapping such as {priority: high, custom.product: api}")
        out: dict[str, Any] = {}
        for raw_key, value in args.items():
            key = str(raw_key)
            if key == "custom" and isinstance(value, Mapping):
                for k, v in value.items():
                    out[f"custom.{k}"] = v
                continue
            if key.startswith("custom."):
                out[key] = value
                continue
            if key not in _SETTABLE:
                import difflib

                choices = [*_SETTABLE, "custom.<name>"]
                close = difflib.get_close_matches(key, choices, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ArgError(
                    f"cannot set '{key}'{hint}; settable: {', '.join(choices)}", (key,), key=True
                )
            if not isinstance(value, str) or not value:
                raise ArgError(f"'{key}' takes a text value", (key,))
            if key == "priority" and value not in {p.value for p in Priority}:
                raise ArgError(_enum_hint("priority", value, [p.value for p in Priority]), (key,))
            if key == "status" and value not in {s.value for s in Status}:
                raise ArgError(_enum_hint("status", value, [s.value for s in Status]), (key,))
            out[key] = value
        return out

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset(params)

    def summary(self, params: Any) -> str:
        return "set " + ", ".join(f"{k}={v}" for k, v in params.items())

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        done = [f"{k}={v}" for k, v in params.items() if ctx.set_field(k, v)]
        return ("set " + ", ".join(done)) if done else None


def _enum_hint(what: str, value: str, allowed: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (one of: {', '.join(allowed)})"
    return f"unknown {what} '{value}'{hint}"


class AddTagsAction(Action):
    name = "add_tags"
    description = "Add tags: add_tags: [vip, priority_support]."

    def parse(self, args: Any) -> list[str]:
        return _tags(args)

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset({"tags"})

    def summary(self, params: Any) -> str:
        return "add tags " + " ".join(params)

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        return ("add tags " + " ".join(params)) if ctx.add_tags(params) else None


class RemoveTagsAction(AddTagsAction):
    name = "remove_tags"
    description = "Remove tags: remove_tags: [needs_triage]."

    def summary(self, params: Any) -> str:
        return "remove tags " + " ".join(params)

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        return ("remove tags " + " ".join(params)) if ctx.remove_tags(params) else None


_ASSIGN_KEYS = (
    "strategy",
    "agent",
    "group",
    "tier",
    "skills",
    "language",
    "then",
    "fallback",
    "rota",
    "note",
)


class AssignAction(Action):
    name = "assign"
    description = (
        "Assign with a strategy: {strategy: round_robin, group: billing}; or an agent: a3. "
        "note: TEMPLATE adds an internal note only when the ticket was (re)assigned."
    )

    def parse(self, args: Any) -> dict[str, Any]:
        from cstoolkit.triage.assign import CHOOSERS, STRATEGIES

        if isinstance(args, str):
            if args in STRATEGIES:
                return {"strategy": args}
            return {"agent": args}
        if not isinstance(args, Mapping):
            raise ArgError("expected {strategy: ..., group: ...} or an agent id")
        for key in args:
            if key not in _ASSIGN_KEYS:
                import difflib

                close = difflib.get_close_matches(str(key), _ASSIGN_KEYS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ArgError(f"unknown assign option '{key}'{hint}", (str(key),), key=True)
        params = dict(args)
        if "note" in params:
            params["note"] = _template(params, "note")
        if "agent" in params:
            return params
        strategy = params.get("strategy", "round_robin")
        if strategy not in STRATEGIES:
            raise ArgError(_enum_hint("strategy", str(strategy), list(STRATEGIES)), ("strategy",))
        params["strategy"] = strategy
        for key in ("then", "fallback"):
            if key not in params:
                continue
            value = params[key]
            if key == "fallback" and (isinstance(value, bool) or value == "none"):
                continue
            if value not in CHOOSERS:
                raise ArgError(_enum_hint(key, str(value), list(CHOOSERS)), (key,))
        if strategy == "rota" and not params.get("rota"):
            raise ArgError("the rota strategy needs rota: NAME (a rota of the roster)")
        if params.get("tier") is not None and (
            isinstance(params["tier"], bool) or not isinstance(params["tier"], int)
        ):
            raise ArgError("tier is a whole number", ("tier",))
        if "skills" in params and not isinstance(params["skills"], list):
            raise ArgError("skills is a list", ("skills",))
        return params

    def once(self, params: Any) -> bool:
        return params.get("strategy") == "round_robin"

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset({"assignee", "group"} if params.get("group") else {"assignee"})

    def summary(self, params: Any) -> str:
        if "agent" in params:
            return f"assign {params['agent']}"
        where = f" in {params['group']}" if params.get("group") else ""
        return f"assign {params['strategy']}{where}"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        return ctx.assign(str(params.get("strategy", "")), params)


class EscalateAction(Action):
    name = "escalate"
    description = "Escalate to the next tier (group of that tier, least loaded agent)."
    idempotent = False

    def parse(self, args: Any) -> dict[str, Any]:
        if args is None or args is True:
            return {}
        if not isinstance(args, Mapping):
            raise ArgError("expected nothing, or {tier: N, group: NAME, note: TEMPLATE}")
        allowed = ("tier", "group", "note", "strategy")
        for key in args:
            if key not in allowed:
                raise ArgError(f"unknown escalate option '{key}'", (str(key),), key=True)
        params = dict(args)
        if "note" in params:
            params["note"] = _template(params, "note")
        strategy = params.get("strategy", "least_loaded")
        if strategy not in ("least_loaded", "round_robin"):
            raise ArgError(
                _enum_hint("strategy", str(strategy), ["least_loaded", "round_robin"]),
                ("strategy",),
            )
        return params

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset({"assignee", "group", "tags"})

    def summary(self, params: Any) -> str:
        return f"escalate to tier {params['tier']}" if "tier" in params else "escalate a tier"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        return ctx.escalate(params)


class NoteAction(Action):
    name = "note"
    description = "Add an internal note from a template."
    idempotent = False
    public = False

    def parse(self, args: Any) -> Any:
        return _template(args)

    def summary(self, params: Any) -> str:
        return "public reply" if self.public else "internal note"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        body = ctx.render(params)
        if not body.strip():
            return None
        ctx.comment(body, self.public)
        return self.summary(params)


class ReplyAction(NoteAction):
    name = "reply"
    description = "Add a public reply from a template."
    public = True


class NotifyAction(Action):
    name = "notify"
    description = "Send a message through a configured channel: {channel, to, subject, text}."
    idempotent = False

    def parse(self, args: Any) -> dict[str, Any]:
        if not isinstance(args, Mapping):
            raise ArgError("expected {channel: NAME, to: assignee|requester|ADDRESS, text: ...}")
        for key in args:
            if key not in ("channel", "to", "subject", "text"):
                raise ArgError(f"unknown notify option '{key}'", (str(key),), key=True)
        if not isinstance(args.get("channel"), str) or not args["channel"]:
            raise ArgError("notify needs channel: NAME (a [channels.NAME] of cstoolkit.toml)")
        if "text" not in args:
            raise ArgError("notify needs text: TEMPLATE")
        params = {
            "channel": args["channel"],
            "to": str(args.get("to", "assignee")),
            "text": _template(args, "text"),
            "subject": _template(args, "subject") if "subject" in args else "",
        }
        return params

    def summary(self, params: Any) -> str:
        return f"notify {params['to']} via {params['channel']}"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        text = ctx.render(params["text"])
        subject = ctx.render(params["subject"]) if params["subject"] else ""
        ctx.notify(params["channel"], params["to"], subject, text)
        return self.summary(params)


class ApplySlaAction(Action):
    name = "apply_sla"
    description = "Apply an SLA policy by name (sets the custom field sla_policy)."

    def parse(self, args: Any) -> str:
        if not isinstance(args, str) or not args:
            raise ArgError("expected the name of an [sla.NAME] policy")
        return args

    def writes(self, params: Any) -> frozenset[str]:
        from cstoolkit.sla import SLA_POLICY_FIELD

        return frozenset({f"custom.{SLA_POLICY_FIELD}"})

    def summary(self, params: Any) -> str:
        return f"apply SLA {params}"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        from cstoolkit.sla import SLA_POLICY_FIELD

        if ctx.set_field(f"custom.{SLA_POLICY_FIELD}", params):
            return f"apply SLA {params}"
        return None


class RouteAction(Action):
    """Route by the routing model above a confidence floor (docs/routing.md).

    ``route: {floor: 0.8, fields: [group, priority]}`` sets each field whose prediction's
    confidence is at least the floor; below it the field is left alone, so the rules after it
    decide (put the keyword rules after this one, without ``stop``, guarded by
    ``predicted.group.confidence: {lt: 0.8}`` or ``group: null``)."""

    name = "route"
    description = "Set group/priority from the routing model above a confidence floor."
    FIELDS = ("group", "priority")

    def parse(self, args: Any) -> dict[str, Any]:
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise ArgError("expected {floor: 0.8, fields: [group, priority]}")
        unknown = set(args) - {"floor", "fields"}
        if unknown:
            raise ArgError(f"unknown key {sorted(unknown)[0]!r} (floor, fields)")
        floor = args.get("floor", 0.8)
        if isinstance(floor, bool) or not isinstance(floor, int | float) or not 0 <= floor <= 1:
            raise ArgError("floor must be a number between 0 and 1")
        fields = args.get("fields", ["group"])
        fields = [fields] if isinstance(fields, str) else fields
        if not isinstance(fields, list) or not fields or set(fields) - set(self.FIELDS):
            raise ArgError("fields: a list of group, priority")
        return {"floor": float(floor), "fields": list(fields)}

    def writes(self, params: Any) -> frozenset[str]:
        return frozenset(params["fields"])

    def summary(self, params: Any) -> str:
        return f"route {', '.join(params['fields'])} by the model at >= {params['floor']}"

    def run(self, params: Any, ctx: ActionContext) -> str | None:
        predicted = getattr(ctx, "predicted", None)
        done, below = [], []
        for name in params["fields"]:
            value = predicted(f"predicted.{name}") if predicted else None
            conf = predicted(f"predicted.{name}.confidence") if predicted else None
            if value is None or conf is None:
                below.append(f"{name}: no model")
            elif conf < params["floor"]:
                below.append(f"{name}: {value} at {conf:.2f} < {params['floor']:.2f}")
            elif ctx.set_field(name, value):
                done.append(f"{name} {value} ({conf:.2f})")
            else:
                done.append(f"{name} already {value} ({conf:.2f})")
        parts = []
        if done:
            parts.append("model: " + ", ".join(done))
        if below:
            parts.append("rules decide " + "; ".join(below))
        return "; ".join(parts)


BUILTIN_ACTIONS: tuple[type[Action], ...] = (
    SetAction,
    AddTagsAction,
    RemoveTagsAction,
    AssignAction,
    EscalateAction,
    NoteAction,
    ReplyAction,
    NotifyAction,
    ApplySlaAction,
    *KB_ACTIONS,
    RouteAction,
)


def registry(host: Any = None) -> dict[str, Any]:
    """Every action by name: the host's registrations (built-ins and plugins), or the built-ins
    alone when there is no host."""
    if host is None:
        return {cls.name: cls() for cls in BUILTIN_ACTIONS}
    out: dict[str, Any] = {}
    for name in host.names("action"):
        obj = host.get("action", name)
        out[name] = obj() if isinstance(obj, type) else obj
    for cls in BUILTIN_ACTIONS:  # built-ins even when a test host skipped the plugin module
        out.setdefault(cls.name, cls())
    return out


def once(action: Any, params: Any) -> bool:
    fn = getattr(action, "once", None)
    if callable(fn):
        return bool(fn(params))
    return not getattr(action, "idempotent", True)


def writes(action: Any, params: Any) -> frozenset[str]:
    fn = getattr(action, "writes", None)
    return frozenset(fn(params)) if callable(fn) else frozenset()


def summary(action: Any, params: Any) -> str:
    fn = getattr(action, "summary", None)
    return str(fn(params)) if callable(fn) else str(getattr(action, "name", "action"))
