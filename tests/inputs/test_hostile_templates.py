"""The one template sandbox (cstoolkit/templating.py): generated templates render or fail
with one TemplateError; every limit is proven by the limit's own error, never by a timing."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit import templating
from cstoolkit.templating import TemplateError

from .conftest import Outcome, Workspace, assert_clean

CONTEXT = {
    "ticket": {
        "id": "demo:1",
        "subject": "Refund",
        "tags": ["vip", "billing"],
        "custom_fields": {},
    },
    "requester": {"first_name": "Ana", "email": "ana@example.com"},
    "now": "2026-03-02T10:00:00+00:00",
}


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[templating.Limits]:
    """Smaller limits, so a generated bomb is stopped sooner (the property is the same)."""
    limits = dataclasses.replace(templating.LIMITS, value=100_000, loops=20_000, seconds=0.5)
    monkeypatch.setattr(templating, "LIMITS", limits)
    templating._compile.cache_clear()
    yield limits
    templating._compile.cache_clear()


ATOMS = st.one_of(
    st.integers(-5, 12).map(str),
    st.sampled_from(["9", "99", "999999999", "10**6", "2**64", "1.5", "-1", "0", "True"]),
    st.sampled_from(["'x'", "'ab '", "'%s'", "'{}'", "'{:>99999999}'", "'%0999999999d'", "''"]),
    st.sampled_from(["ticket.subject", "ticket.tags", "requester.first_name", "now", "nope.x"]),
    st.sampled_from(["range(5)", "range(10**9)", "[1, 2, 3]", "{'a': 1}", "ticket", "loop"]),
)
OPERATORS = st.sampled_from(["*", "**", "+", "-", "%", "//", "/", "~", "in", "==", "and"])
FILTERS = st.sampled_from(
    ["upper", "length", "list", "sum", "join", "join(', ')", "center(99999999)", "indent(9999)",
     "replace('a', 'aaaaaaaaaa')", "replace('', 'xx')", "format(1)", "batch(99999999, 0)",
     "slice(99999999)", "wordwrap(1)", "truncate(5)", "default('d')", "int", "string",
     "tojson", "unique|list", "sort", "reverse|list", "first", "last", "title", "urlize",
     "striptags", "e", "trim", "capitalize", "round(2)", "abs", "dictsort", "attr('x')",
     "map('upper')|list", "select|list", "groupby('x')", "xmlattr", "pprint", "datetime"]
)  # fmt: skip
METHODS = st.sampled_from(
    ["upper()", "center(99999999)", "ljust(9)", "zfill(99999999)", "replace('x', 'xxxx')",
     "join(['a', 'b'])", "split()", "format(1, 2)", "translate({})", "encode()", "to_bytes(9)",
     "__class__", "mro()", "expandtabs(99999999)", "count('x')", "keys()", "items()"]
)  # fmt: skip


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        ATOMS,
        lambda inner: st.one_of(
            st.tuples(inner, OPERATORS, inner).map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
            st.tuples(inner, FILTERS).map(lambda p: f"({p[0]})|{p[1]}"),
            st.tuples(inner, METHODS).map(lambda p: f"({p[0]}).{p[1]}"),
            inner.map(lambda e: f"-{e}"),
            inner.map(lambda e: f"[{e}, {e}]"),
        ),
        max_leaves=6,
    )


def templates() -> st.SearchStrategy[str]:
    expr = expressions()
    statement = st.one_of(
        expr.map(lambda e: f"{{{{ {e} }}}}"),
        st.tuples(expr, expr).map(
            lambda p: f"{{% for x in {p[0]} %}}{{{{ {p[1]} }}}}{{% endfor %}}"
        ),
        expr.map(lambda e: f"{{% set s = {e} %}}{{{{ s ~ s ~ s }}}}"),
        expr.map(lambda e: f"{{% set s %}}{{{{ {e} }}}}{{% endset %}}{{{{ s|length }}}}"),
        expr.map(
            lambda e: f"{{% macro m(n) %}}{{{{ {e} }}}}{{{{ m(n) }}}}{{% endmacro %}}{{{{ m(1) }}}}"
        ),
        st.sampled_from(["{{", "{% for %}", "{% include 'x' %}", "{{ lipsum(10**6) }}", "text"]),
    )
    return st.lists(statement, min_size=1, max_size=3).map("".join)


@given(text=templates())
def test_generated_templates_render_or_raise_one_template_error(
    small_limits: templating.Limits, text: str
) -> None:
    try:
        out = templating.render(text, CONTEXT)
    except TemplateError as exc:
        assert "\n" not in str(exc)
        return
    assert isinstance(out, str) and len(out) <= small_limits.output


@given(text=templates())
def test_generated_templates_compile_without_evaluating(text: str) -> None:
    """Compiling never runs what the template says (no constant folding): it succeeds or
    fails on syntax or nesting, within the limits."""
    try:
        templating.compile_template(text)
    except TemplateError as exc:
        assert "\n" not in str(exc)


@given(text=templates())
def test_generated_templates_in_a_recipe(
    cst: Callable[..., Outcome], workspace: Workspace, small_limits: Any, text: str
) -> None:
    recipe = workspace.dir / "t.yaml"
    recipe.write_text(yaml.safe_dump({"rules": [{"name": "t", "then": [{"note": text}]}]}))
    out = cst(*workspace.args("triage", "run", str(recipe), "--query", "id:demo:1"))
    assert_clean(out, (0, 1, 2))
    if out.exit_code == 1:
        assert "failed demo:1: " in out.stderr and f"{recipe}:1:" in out.stderr, out
        assert "1 of 1 tickets failed" in out.stderr, out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ 'x' * 10**9 }}", "repeating would hold more than 1,000,000"),
        ("{{ [0] * 10**7 }}", "repeating would hold more than 1,000,000"),
        ("{{ 9 ** (9 ** 9) }}", "larger than 1024 bits"),
        ("{{ 2.5 ** 100000 }}", "an exponent larger than 1024"),
        ("{{ 'x'|center(1000000000) }}", "center width 1000000000 is larger than 10,000"),
        ("{{ 'x'.center(1000000000) }}", "center width 1000000000 is larger than 10,000"),
        ("{{ 'x'.zfill(1000000000) }}", "zfill width 1000000000 is larger than 10,000"),
        ("{{ '%0999999999d' % 1 }}", "a format width 999999999 is larger than 10,000"),
        ("{{ '%*d' % (9, 1) }}", "'*' widths"),
        ("{{ '%0999999999d'|format(1) }}", "a format width 999999999"),
        ("{{ '{:>999999999}'.format(1) }}", "a format width 999999999"),
        ("{{ '{:{w}}'.format(1, w=999999999) }}", "a format width 999999999"),
        ("{% for i in range(10**9) %}{% endfor %}", "ran more than 100,000 times"),
        ("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
         "ran more than 100,000 times"),
        ("{% for c in ticket.subject * 99999 %}{% for d in ticket.subject * 99 %}{% endfor %}"
         "{% endfor %}", "loops ran more than 100,000 times"),
        ("{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% endif %}{% endmacro %}"
         "{{ f('x', 64) }}",
         "joining would build more than 1,000,000 characters"),
        ("{% set s %}{% for i in range(30000) %}{{ 'x' * 99 }}{% endfor %}{% endset %}",
         "produced more than 2,000,000 characters"),
        ("{{ 'x' * 200000 }}", "output longer than 100,000 characters"),
        ("{{ ('a' * 100000)|replace('a', 'b' * 100) }}", "replacing would hold more than"),
        ("{{ ('a' * 100000).replace('a', 'b' * 100) }}", "replacing would hold more than"),
        ("{{ ('a\\n' * 100000)|indent(100) }}", "indenting would hold more than"),
        ("{{ [1]|batch(1000000000, 'x')|list }}", "batch size 1000000000 is larger"),
        ("{{ [1]|slice(1000000000)|list }}", "slice count 1000000000 is larger"),
        ("{{ [[1] * 1000] * 1000|sum(start=[]) }}", "sum adds numbers"),
        ("{{ (1).to_bytes(1000000000, 'big') }}", "an argument larger than 1,000,000"),
        ("{{ 'ab'.translate({97: 'x'}) }}", "str.translate() is not allowed"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "recurses too deeply"),
        ("{{ lipsum(10**6) }}", "'lipsum' is undefined"),
    ],
)  # fmt: skip
def test_each_limit_stops_its_bomb(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as err:
        templating.render(text, CONTEXT)
    assert message in str(err.value), str(err.value)


def test_compiling_never_folds_constants() -> None:
    """jinja2 folds constant expressions while compiling: `from_string` alone would build
    the gigabyte. Here nothing runs before render, and render refuses it."""
    for text in ("{{ 'x' * 10**9 }}", "{{ 'x'|center(10**9) }}", "{{ ('a' ~ 'b') * 10**9 }}"):
        template = templating.compile_template(text)
        with pytest.raises(TemplateError, match="refused by the sandbox"):
            templating.render(template, {})


def test_the_time_limit_stops_a_slow_render(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filter that works in pure Python for long (no operator, call or loop to check at)
    is stopped by the timer: the limit's error, not a duration, is what is asserted."""
    monkeypatch.setattr(templating, "LIMITS", dataclasses.replace(templating.LIMITS, seconds=0.05))
    with pytest.raises(TemplateError, match=r"took longer than 0.05 s"):
        templating.render("{{ ('a ' * 400000)|wordwrap(1)|length }}", {})


def test_the_time_limit_holds_without_the_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off the main thread there is no timer: the checks at every step keep the limit."""
    import threading

    monkeypatch.setattr(templating, "LIMITS", dataclasses.replace(templating.LIMITS, seconds=0.05))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            templating.render(
                "{% for i in range(90000) %}{{ (i ~ 'x')|upper|length }}{% endfor %}", {}
            )
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert errors and isinstance(errors[0], TemplateError), errors
    assert "took longer than 0.05 s" in str(errors[0])


def test_source_length_is_limited() -> None:
    with pytest.raises(TemplateError, match="longer than 100,000 characters"):
        templating.compile_template("x" * 100_001)
    with pytest.raises(TemplateError, match="nested too deeply"):
        templating.compile_template("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}")


def test_ordinary_templates_still_work() -> None:
    text = (
        "Hola {{ requester.first_name }}: {{ ticket.subject|upper }} "
        "{% for t in ticket.tags %}#{{ t }}{% if not loop.last %}, {% endif %}{% endfor %} "
        "{{ '%5.1f'|format(2.25) }} {{ '{:>4}'.format(7) }} {{ range(3)|list }} {{ 2 ** 10 }}"
    )
    assert templating.render(text, CONTEXT) == (
        "Hola Ana: REFUND #vip, #billing   2.2    7 [0, 1, 2] 1024"
    )
    assert templating.render("{{ ''.__class__.__mro__ }}{{ ticket.__init__ }}", CONTEXT) == ""


def test_survey_templates_share_the_sandbox(tmp_path: Any) -> None:
    from cstoolkit.errors import ConfigError
    from cstoolkit.surveys.templates import TemplateSet

    (tmp_path / "text.en.j2").write_text("{{ 'x' * 10**9 }}")
    with pytest.raises(ConfigError) as err:
        TemplateSet(tmp_path).render("csat", "en", {"name": "Ana"})
    assert f"template error in {tmp_path / 'text.en.j2'}" in str(err.value)
    assert "repeating would hold more than" in str(err.value)
    (tmp_path / "text.en.j2").write_bytes(b"caf\xe9 {{ name }}")
    with pytest.raises(ConfigError, match=r"text.en.j2:1:4: not valid UTF-8 \(byte 0xe9\)"):
        TemplateSet(tmp_path).render("csat", "en", {"name": "Ana"})
