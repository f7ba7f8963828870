"""The one template sandbox: Jinja2 templates people write, rendered with limits.

Recipe notes, replies, notifications and escalation notes (:mod:`cstoolkit.triage`) and survey
messages (:mod:`cstoolkit.surveys.templates`) are Jinja2 templates written by people who are
not programmers and may be careless, or hostile. They all compile and render here, in Jinja2's
:class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (no access to Python internals, no
changing lists or dicts) with limits on top, so a short template cannot pin a CPU or exhaust
memory (docs/security.md, "Files people write"):

* a template's source is at most :attr:`Limits.source` characters and compiles within
  :attr:`Limits.seconds`; nothing is evaluated while compiling (Jinja2 would otherwise fold
  constant expressions such as ``9**9**9`` in ``from_string``);
* one render runs for at most :attr:`Limits.seconds`, iterates at most :attr:`Limits.loops`
  times in all its loops and ``range`` calls, emits at most :attr:`Limits.emitted` characters
  in all (captured blocks and macros included) and returns at most :attr:`Limits.output`;
* no value it builds (a string, a list) holds more than :attr:`Limits.value` characters or
  items, no whole number more than :attr:`Limits.int_bits` bits, and no width (``center``,
  ``'{:>N}'``, ``'%Nd'``, ``indent``) exceeds :attr:`Limits.width`. Operators that can build
  big values (``*``, ``**``, ``+``, ``%``, ``~``) and every filter and method are checked
  *before* they run, from the sizes of their operands.

A template that crosses a limit, or fails in any other way, raises :class:`TemplateError`: one
line, with the line inside the template when known. Callers add the file, rule and field.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cstoolkit import timespec
from cstoolkit.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    """What one template may do (the values are documented in docs/security.md)."""

    source: int = 100_000  # characters of template source
    output: int = 100_000  # characters a render returns
    emitted: int = 2_000_000  # characters all output statements of one render produce
    value: int = 1_000_000  # characters or items of any value a template builds
    width: int = 10_000  # a padding width, format width or precision, slice count
    loops: int = 100_000  # iterations of all loops and range() items of one render
    int_bits: int = 1_024  # bits of a whole number a template computes
    seconds: float = 1.0  # wall time of one compile, and of one render


LIMITS = Limits()


class TemplateError(ConfigError):
    """A template failed to compile or render, or crossed a limit; ``line`` is the line inside
    the template when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message + (f" (template line {line})" if line else ""))
        self.bare_message = message
        self.line = line


# -- the budget of one compile or render -------------------------------------------------------


class _Budget:
    __slots__ = ("deadline", "emitted", "limits", "loops", "ticks")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.seconds
        self.loops = 0
        self.emitted = 0
        self.ticks = 0

    def tick(self) -> None:
        self.ticks += 1
        if self.ticks & 63 == 0 and time.monotonic() > self.deadline:
            _refuse(f"took longer than {self.limits.seconds:g} s")


_BUDGET: ContextVar[_Budget | None] = ContextVar("cstoolkit_template_budget", default=None)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    if budget is None:  # rendered outside render(): a budget of its own
        budget = _Budget(LIMITS)
        _BUDGET.set(budget)
    return budget


def _refuse(message: str) -> Any:
    """Stop the template: a limit was crossed (jinja2's SecurityError, raised as such)."""
    from jinja2.exceptions import SecurityError

    raise SecurityError(message)


# -- size checks -------------------------------------------------------------------------------


def _size(value: Any) -> int:
    """Characters or items of a value (0 for scalars)."""
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset | range):
        return len(value)
    return 0


def _check_value(value: Any, what: str = "a value") -> Any:
    limits = _budget().limits
    if _size(value) > limits.value:
        _refuse(f"{what} would hold more than {limits.value:,} characters or items")
    if _abs_int(value).bit_length() > limits.int_bits:
        _refuse(f"a number larger than {limits.int_bits} bits")
    return value


def _check_width(n: Any, what: str) -> None:
    limits = _budget().limits
    if isinstance(n, int) and not isinstance(n, bool) and abs(n) > limits.width:
        _refuse(f"{what} {n} is larger than {limits.width:,}")


def _check_estimate(estimate: float, what: str) -> None:
    limits = _budget().limits
    if estimate > limits.value:
        _refuse(f"{what} would hold more than {limits.value:,} characters or items")


_PERCENT = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[diouxXeEfFgGcrsa%]")
_SPEC_NUMBERS = re.compile(r"\d+")


def _check_percent(fmt: str) -> None:
    """``'%0999999999d' % 1`` would build a gigabyte: refuse widths over the limit."""
    for m in _PERCENT.finditer(fmt):
        for part in m.groups():
            if part == "*":
                _refuse("'*' widths in % formatting are not allowed in templates")
            if part:
                _check_width(int(part), "a format width")


def _check_spec(spec: str) -> None:
    """``'{:>999999999}'.format(x)``: refuse a format spec's width or precision over the limit."""
    for number in _SPEC_NUMBERS.findall(spec):
        _check_width(int(number), "a format width")


def _joined_size(items: Iterable[Any], separator: str) -> None:
    limit = _budget().limits.value
    total = 0
    for n, item in enumerate(items):
        total += len(item) if isinstance(item, str) else len(str(item))
        total += len(separator) if n else 0
        if total > limit:
            _refuse(f"joining would build more than {limit:,} characters")


def _replaced_size(s: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(s, str) or not isinstance(old, str) or not isinstance(new, str):
        return
    hits = s.count(old) + 1 if old == "" else s.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _check_estimate(len(s) + hits * (len(new) - len(old)), "replacing")


# -- str methods -------------------------------------------------------------------------------

#: str methods a template may call; anything else on a str (``translate``, ``encode``...) is
#: refused. ``format`` and ``format_map`` go through the sandbox's checked formatter.
_STR_METHODS = frozenset((
    "capitalize", "casefold", "center", "count", "endswith", "find", "format", "format_map",
    "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
    "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower",
    "lstrip", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
    "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase",
    "title", "upper", "zfill",
))  # fmt: skip


def _check_str_method(name: str, s: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    if name not in _STR_METHODS:
        _refuse(f"str.{name}() is not allowed in templates")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        _check_width(args[0], f"{name} width")
    elif name == "join" and args:
        _joined_size(args[0], s)
    elif name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        _replaced_size(s, args[0], args[1], count)


# -- filters -----------------------------------------------------------------------------------


_CHECKED_FILTERS = frozenset(
    ("center", "indent", "replace", "join", "format", "batch", "slice", "wordwrap", "sum")
)


def _filter_checks(name: str, bound: Mapping[str, Any]) -> None:
    """Checks a built-in filter's arguments before it runs (``bound``: its named arguments)."""
    value = bound.get("value", bound.get("s"))
    if name == "center":
        _check_width(bound.get("width"), "center width")
    elif name == "indent":
        width = bound.get("width", 4)
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        per_line = len(width) if isinstance(width, str) else width
        _check_width(per_line, "indent width")
        _check_estimate(lines * (per_line or 0) + _size(value), "indenting")
    elif name == "replace":
        _replaced_size(value, bound.get("old"), bound.get("new"), bound.get("count") or -1)
    elif name == "join":
        if isinstance(value, Iterable) and not isinstance(value, str):
            _joined_size(value, str(bound.get("d", "")))
    elif name == "format" and isinstance(value, str):
        _check_percent(value)
    elif name == "batch":
        _check_width(bound.get("linecount"), "batch size")
    elif name == "slice":
        _check_width(bound.get("slices"), "slice count")
    elif name == "wordwrap":
        _check_width(bound.get("width"), "wrap width")
    elif name == "sum":
        start = bound.get("start", 0)
        if not isinstance(start, int | float) or isinstance(start, bool):
            _refuse("sum adds numbers (start must be a number)")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    inner = inspect.unwrap(func)
    try:
        signature: inspect.Signature | None = inspect.signature(inner)
    except (TypeError, ValueError):  # pragma: no cover - every built-in filter has one
        signature = None
    # jinja2's async-capable filters are wrappers that take an eval context first, which the
    # function they wrap does not: skip it to read the arguments by name.
    skip = int(hasattr(func, "jinja_pass_arg") and "jinja_pass_arg" not in vars(inner))

    if name not in _CHECKED_FILTERS:
        signature = None  # nothing to check before it runs: no need to read its arguments

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _budget()
        budget.tick()
        if signature is not None:
            try:
                bound = signature.bind(*args[skip:], **kwargs).arguments
            except TypeError:
                bound = {}
            _filter_checks(name, bound)
        return _check_value(func(*args, **kwargs), f"the filter {name}")

    return guarded


def _format_datetime(value: Any, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """``{{ sla.due_at | datetime }}``: an ISO time (or a datetime) in ``fmt``."""
    if isinstance(value, str):
        try:
            value = timespec.parse_time(value, relative=False)
        except ValueError:
            return value
    if isinstance(value, datetime):
        _check_percent(fmt)
        return value.strftime(str(fmt)[:200])
    return "" if value is None else str(value)


# -- the environment ---------------------------------------------------------------------------


@functools.cache
def _classes() -> tuple[Any, Any]:
    """The sandbox's environment and code generator classes (jinja2 is imported lazily)."""
    from jinja2 import nodes
    from jinja2.compiler import CodeGenerator
    from jinja2.runtime import markup_join, str_join
    from jinja2.sandbox import (
        ImmutableSandboxedEnvironment,
        SandboxedEscapeFormatter,
        SandboxedFormatter,
    )
    from jinja2.utils import pass_context
    from jinja2.visitor import NodeTransformer
    from markupsafe import Markup

    def hook(name: str, arg: Any) -> nodes.Filter:
        # A filter node compiles to a direct call of the function (no sandbox call on the
        # way); the hooks take the context, so jinja2 never evaluates them while compiling.
        return nodes.Filter(arg, name, [], [], None, None)

    class Guard(NodeTransformer):
        """Routes loops, ``~`` and output through the render's counters (the ``cst_*``
        filters, which a template may name too: they only count)."""

        def visit_For(self, node: nodes.For) -> nodes.Node:
            self.generic_visit(node)
            node.iter = hook("cst_loop", node.iter)
            return node

        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
            self.generic_visit(node)
            return hook("cst_concat", nodes.Tuple(list(node.nodes), "load"))

        def visit_Output(self, node: nodes.Output) -> nodes.Node:
            self.generic_visit(node)
            node.nodes = [
                hook("cst_emit", nodes.MarkSafeIfAutoescape(nodes.Const(child.data)))
                if isinstance(child, nodes.TemplateData)
                else hook("cst_emit", child)
                for child in node.nodes
            ]
            return node

    class Generator(CodeGenerator):
        def visit_Template(self, node: nodes.Template, frame: Any = None) -> None:
            super().visit_Template(Guard().visit(node), frame)

    class Formatter(SandboxedFormatter):
        def format_field(self, value: Any, format_spec: str) -> Any:
            _budget().tick()
            _check_spec(format_spec)
            return _check_value(super().format_field(value, format_spec), "a formatted value")

    class EscapeFormatter(SandboxedEscapeFormatter):
        def format_field(self, value: Any, format_spec: str) -> Any:
            _budget().tick()
            _check_spec(format_spec)
            return _check_value(super().format_field(value, format_spec), "a formatted value")

    class Sandbox(ImmutableSandboxedEnvironment):
        code_generator_class = Generator
        cst_hooks: dict[str, Any]  # the Guard's counters, as filters (set below)
        intercepted_binops = frozenset({"*", "**", "+", "-", "%", "/", "//"})
        intercepted_unops = frozenset({"-", "+"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _budget().tick()
            _check_binop(operator, left, right)
            try:
                result = super().call_binop(context, operator, left, right)
            except OverflowError:
                _refuse(f"'{operator}' overflowed")
            return _check_value(result, f"the result of '{operator}'")

        def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
            _budget().tick()
            return super().call_unop(context, operator, arg)

        def getattr(self, obj: Any, attribute: str) -> Any:
            _budget().tick()
            return super().getattr(obj, attribute)

        def getitem(self, obj: Any, argument: Any) -> Any:
            _budget().tick()
            return super().getitem(obj, argument)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            budget = _budget()
            budget.tick()
            owner = getattr(__obj, "__self__", None)
            if isinstance(owner, str) and inspect.isbuiltin(__obj):
                _check_str_method(__obj.__name__, owner, args, kwargs)
            elif inspect.isbuiltin(__obj):  # int.to_bytes(10**9), dict.fromkeys(...): sizes
                for arg in (*args, *kwargs.values()):
                    if _abs_int(arg) > budget.limits.value:
                        _refuse(f"an argument larger than {budget.limits.value:,}")
            result = super().call(__context, __obj, *args, **kwargs)
            return _check_value(result, "a call's result")

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapped = super().wrap_str_format(value)
            if wrapped is None:
                return None
            owner = value.__self__
            str_type = type(owner)
            formatter = (
                EscapeFormatter(self, escape=owner.escape)
                if isinstance(owner, Markup)
                else Formatter(self)
            )
            is_map = value.__name__ == "format_map"

            def checked(*args: Any, **kwargs: Any) -> str:
                if is_map:
                    if kwargs or len(args) != 1:
                        raise TypeError("format_map() takes exactly one argument")
                    kwargs, args = args[0], ()
                return str_type(formatter.vformat(owner, args, kwargs))

            return functools.update_wrapper(checked, value)

    @pass_context
    def cst_loop(context: Any, iterable: Any) -> Iterator[Any]:
        return _counted(iterable, _budget())

    @pass_context
    def cst_concat(context: Any, parts: tuple[Any, ...]) -> Any:
        _budget().tick()
        _joined_size(parts, "")
        return (markup_join if context.eval_ctx.autoescape else str_join)(parts)

    @pass_context
    def cst_emit(context: Any, value: Any) -> Any:
        budget = _budget()
        budget.tick()
        budget.emitted += len(value) if isinstance(value, str) else len(str(value))
        if budget.emitted > budget.limits.emitted:
            _refuse(f"produced more than {budget.limits.emitted:,} characters")
        return value

    Sandbox.cst_hooks = {"cst_loop": cst_loop, "cst_concat": cst_concat, "cst_emit": cst_emit}
    return Sandbox, Generator


def _abs_int(value: Any) -> int:
    return abs(value) if isinstance(value, int) and not isinstance(value, bool) else 0


def _counted(iterable: Any, budget: _Budget) -> Iterator[Any]:
    limit = budget.limits.loops
    paid = isinstance(iterable, range)  # range() counted its items when it was called
    for item in iterable:
        if not paid:
            budget.loops += 1
            if budget.loops > limit:
                _refuse(f"loops ran more than {limit:,} times")
        budget.tick()
        yield item


def _check_binop(operator: str, left: Any, right: Any) -> None:
    limits = _budget().limits
    if operator == "*":
        for seq, n in ((left, right), (right, left)):
            if _size(seq) and isinstance(n, int) and not isinstance(n, bool):
                _check_estimate(_size(seq) * max(n, 0), "repeating")
        bits = _abs_int(left).bit_length() + _abs_int(right).bit_length()
        if isinstance(left, int) and isinstance(right, int) and bits > limits.int_bits:
            _refuse(f"a number larger than {limits.int_bits} bits")
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and _abs_int(left) > 1 and right > 0:
            if _abs_int(left).bit_length() * right > limits.int_bits:
                _refuse(f"a number larger than {limits.int_bits} bits")
        elif isinstance(left, int | float) and _abs_int(right) > limits.int_bits:
            _refuse(f"an exponent larger than {limits.int_bits}")
    elif operator == "+":
        if _size(left) and _size(right):
            _check_estimate(_size(left) + _size(right), "adding")
    elif operator == "%" and isinstance(left, str):
        _check_percent(left)


def _range(*args: Any) -> range:
    """``range()`` whose items count against the render's loop budget."""
    budget = _budget()
    budget.tick()
    for arg in args:
        if not isinstance(arg, int) or isinstance(arg, bool):
            _refuse("range() takes whole numbers")
    rng = range(*args)
    budget.loops += len(rng)
    if budget.loops > budget.limits.loops:
        _refuse(f"range() and loops ran more than {budget.limits.loops:,} times")
    return rng


@functools.cache
def environment(
    *, autoescape: bool = False, strict: bool = False, keep_newline: bool = False
) -> Any:
    """The sandbox: HTML parts autoescape; ``strict`` makes an unknown name an error (survey
    messages), else a missing attribute renders as nothing (recipe templates)."""
    from jinja2 import ChainableUndefined, StrictUndefined

    sandbox_class, _ = _classes()
    env = sandbox_class(
        undefined=StrictUndefined if strict else ChainableUndefined,
        autoescape=autoescape,
        keep_trailing_newline=keep_newline,
        optimized=False,  # no constant folding: nothing a template says runs while compiling
    )
    env.filters = {name: _guard_filter(name, f) for name, f in env.filters.items()}
    env.filters["datetime"] = _guard_filter("datetime", _format_datetime)
    env.filters.update(sandbox_class.cst_hooks)
    env.globals = {k: v for k, v in env.globals.items() if k not in ("lipsum", "range")}
    env.globals["range"] = _range
    return env


# -- compile and render ------------------------------------------------------------------------


class _Deadline(BaseException):
    """Raised by the timer when a compile or render runs out of time. A BaseException, so no
    ``except Exception`` inside jinja2 or a filter can swallow it."""


class _Scope:
    """Runs a compile or render under a fresh budget and, in the main thread, a timer.

    The budget's ticks (every operator, call, filter, lookup and loop step) check the time
    anywhere; the timer (``ITIMER_REAL``) also stops pure-Python work inside one filter (a
    ``wordwrap`` or ``sort`` of a long text) that ticks do not see.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.timer = False

    def __enter__(self) -> _Budget:
        import signal
        import threading

        budget = _Budget(self.limits)
        self.token = _BUDGET.set(budget)
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            previous = signal.getitimer(signal.ITIMER_REAL)
            if previous == (0.0, 0.0):  # never take over a timer someone else set
                self.handler = signal.signal(signal.SIGALRM, self._expired)
                # then again every 50 ms: an exception raised where Python ignores it (a
                # garbage-collector or __del__ callback) is raised once more, elsewhere
                signal.setitimer(signal.ITIMER_REAL, self.limits.seconds, 0.05)
                self.timer = True
        return budget

    def _expired(self, signum: int, frame: Any) -> None:
        if self.timer:
            raise _Deadline

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.timer:
            self.timer = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.handler)
        _BUDGET.reset(self.token)


def _template_line(exc: BaseException) -> int | None:
    """The line inside the template where a render failed (jinja2 rewrites the traceback so
    template frames carry template line numbers)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


@functools.lru_cache(maxsize=1024)
def _compile(text: str, autoescape: bool, strict: bool, keep_newline: bool) -> Any:
    from jinja2 import TemplateSyntaxError

    limits = LIMITS
    if len(text) > limits.source:
        raise TemplateError(f"template is longer than {limits.source:,} characters")
    env = environment(autoescape=autoescape, strict=strict, keep_newline=keep_newline)
    try:
        with _Scope(limits):
            return env.from_string(text)
    except _Deadline:
        raise TemplateError(
            f"template refused: compiling took longer than {limits.seconds:g} s"
        ) from None
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None
    except (RecursionError, SyntaxError, MemoryError):
        raise TemplateError("template is nested too deeply") from None
    except Exception as exc:  # a limit, or anything else the compiler raised on this text
        raise TemplateError(f"template refused: {_one_line(exc)}") from None


def compile_template(
    text: str, *, autoescape: bool = False, strict: bool = False, keep_newline: bool = False
) -> Any:
    """Compile once (cached); raises :class:`TemplateError` with the template line."""
    if not isinstance(text, str):
        raise TemplateError(f"a template is a text, not {type(text).__name__}")
    return _compile(text, autoescape, strict, keep_newline)


def render(
    template: Any,
    context: Mapping[str, Any],
    *,
    autoescape: bool = False,
    strict: bool = False,
    keep_newline: bool = False,
) -> str:
    """Render a template (a text, or what :func:`compile_template` returned) within the
    limits; any failure is a one-line :class:`TemplateError`."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    if isinstance(template, str):
        template = compile_template(
            template, autoescape=autoescape, strict=strict, keep_newline=keep_newline
        )
    limits = LIMITS
    try:
        with _Scope(limits):
            out = template.render(**context)
    except _Deadline as exc:
        line = _template_line(exc)
        raise TemplateError(
            f"template refused by the sandbox: took longer than {limits.seconds:g} s", line
        ) from None
    except SecurityError as exc:
        raise TemplateError(
            f"template refused by the sandbox: {exc}", _template_line(exc)
        ) from None
    except JinjaError as exc:
        raise TemplateError(f"template error: {_one_line(exc)}", _template_line(exc)) from None
    except (RecursionError, MemoryError) as exc:
        raise TemplateError(
            "template refused: it recurses too deeply", _template_line(exc)
        ) from None
    except Exception as exc:  # arithmetic, lookups, types: the template's own mistakes
        line = _template_line(exc)
        raise TemplateError(
            f"template error: {type(exc).__name__}: {_one_line(exc)}", line
        ) from None
    if len(out) > limits.output:
        raise TemplateError(
            f"template refused by the sandbox: output longer than {limits.output:,} characters"
        )
    return str(out)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def undeclared(text: str, names: Iterable[str]) -> list[str]:
    """Top-level names a template uses that are not among ``names`` (nor set inside it)."""
    from jinja2 import TemplateSyntaxError, meta

    if len(text) > LIMITS.source:
        raise TemplateError(f"template is longer than {LIMITS.source:,} characters")
    try:
        ast = environment().parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", exc.lineno) from None
    except (RecursionError, MemoryError):
        raise TemplateError("template is nested too deeply") from None
    known = set(names)
    return sorted(n for n in meta.find_undeclared_variables(ast) if n not in known)


def pick_language(value: Any, language: str | None) -> str:
    """A template may be one text or a table language -> text (falls back to en, then the
    first one)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and value:
        if language and language in value:
            return str(value[language])
        if "en" in value:
            return str(value["en"])
        return str(next(iter(value.values())))
    return str(value)


__all__ = [
    "LIMITS",
    "Limits",
    "TemplateError",
    "compile_template",
    "environment",
    "pick_language",
    "render",
    "undeclared",
]
