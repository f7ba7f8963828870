"""The one redaction mechanism (cstoolkit.secrets): generated passwords in every place a password
can sit, free text, config show, and a real PostgreSQL server's connection errors."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from cstoolkit import secrets
from cstoolkit.secrets import (
    MASK,
    REDACTOR,
    is_secret_name,
    redact_argv,
    redact_text,
    redact_url,
    redact_value,
    url_secrets,
)
from tests.pgserver import PgServer

RESERVED = "#?/@:%&=+;,$!*'()[] \"\\<>{}|^`~\t"

#: The full printable range: every reserved character, ASCII and beyond, and blanks.
passwords = st.text(
    alphabet=st.one_of(
        st.sampled_from(RESERVED),
        st.sampled_from(string.printable),
        st.characters(min_codepoint=0xA0, exclude_categories=("Cs", "Cc")),
    ),
    min_size=1,
    max_size=40,
)
users = st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=12)
hosts = st.sampled_from(["db.internal", "127.0.0.1", "[::1]", "pg-1.example.com", "h1,h2:5433"])
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
dbs = st.sampled_from(["", "/support", "/cst_test", "/a%20b"])
#: Secret-named query parameters and libpq keywords, in any case.
secret_params = st.sampled_from(
    [
        "password",
        "passwd",
        "token",
        "secret",
        "api_key",
        "access_token",
        "sslpassword",
        "apikey",
        "client_secret",
        "auth_token",
        "pwd",
        "sig",
    ]
).flatmap(lambda n: st.sampled_from([n, n.upper(), n.capitalize()]))


@pytest.fixture(autouse=True)
def _fresh_redactor() -> Iterator[None]:
    """Values learnt here (short generated ones too) must not mask other tests' output."""
    saved = set(REDACTOR._secrets)
    yield
    REDACTOR._secrets = saved
    REDACTOR._pattern = None


def forms(password: str) -> list[str]:
    """The password as written, percent-encoded, percent-decoded and JSON-escaped."""
    from urllib.parse import unquote

    escaped = json.dumps(password)[1:-1]
    return list(dict.fromkeys([password, quote(password, safe=""), unquote(password), escaped]))


def assert_hidden(password: str, shown: str, kept: str = "") -> None:
    """No form of ``password`` is in ``shown``, unless it is also part of what must be kept."""
    for form in forms(password):
        if len(form) >= 1 and form not in kept:
            assert form not in shown, f"{form!r} leaked in {shown!r}"


# -- URLs: userinfo, query, proxies ----------------------------------------------------------


@given(
    scheme=st.sampled_from(["postgresql", "postgres", "http", "https", "socks5"]),
    user=users,
    password=passwords,
    host=hosts,
    port=ports,
    db=dbs,
    encoded=st.booleans(),
    query=st.sampled_from(["", "?sslmode=require", "?application_name=cst&connect_timeout=5"]),
)
def test_userinfo_password_is_masked_raw_or_encoded(
    scheme: str, user: str, password: str, host: str, port: str, db: str, encoded: bool, query: str
) -> None:
    written = quote(password, safe="") if encoded else password
    url = f"{scheme}://{user}:{written}@{host}{port}{db}{query}"
    shown = redact_url(url)
    assert shown == f"{scheme}://{user}:{MASK}@{host}{port}{db}{query}"
    assert_hidden(password, shown, kept=f"{scheme}://{user}:@{host}{port}{db}{query}")
    assert written in url_secrets(url)


@given(
    user=users,
    password=passwords,
    host=hosts,
    port=ports,
    name=secret_params,
    encoded=st.booleans(),
    before=st.sampled_from(["", "sslmode=require&"]),
    after=st.sampled_from(["", "&application_name=cst"]),
)
def test_query_password_is_masked(
    user: str,
    password: str,
    host: str,
    port: str,
    name: str,
    encoded: bool,
    before: str,
    after: str,
) -> None:
    written = quote(password, safe="") if encoded else password
    # A raw value runs to the next "&name=": a password holding one reads as two parameters.
    assume(encoded or not re.search(r"&[^&=#\s]+=", password))
    url = f"postgresql://{user}@{host}{port}/db?{before}{name}={written}{after}"
    shown = redact_url(url)
    kept = f"postgresql://{user}@{host}{port}/db?{before}{name}={after}"
    assert_hidden(password, shown, kept=kept)
    assert shown.startswith(f"postgresql://{user}@")
    if encoded or "@" not in password:
        assert shown == f"postgresql://{user}@{host}{port}/db?{before}{name}={MASK}{after}"


def libpq_quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def libpq_escaped(value: str) -> str:
    """The unquoted form: a backslash before every blank, backslash and a leading quote."""
    out = "".join("\\" + ch if ch.isspace() or ch == "\\" else ch for ch in value)
    return "\\" + out if out.startswith("'") else out


@given(
    password=passwords.filter(lambda p: "\x00" not in p),
    name=st.sampled_from(["password", "PASSWORD", "sslpassword"]),
    quoted=st.booleans(),
    spaces=st.sampled_from(["=", " = ", "= "]),
)
def test_libpq_connection_string_password_is_masked(
    password: str, name: str, quoted: bool, spaces: str
) -> None:
    from psycopg.conninfo import conninfo_to_dict

    written = libpq_quoted(password) if quoted else libpq_escaped(password)
    assume(written)
    head = "host=db.internal port=5432 dbname=support user=cst"
    conninfo = f"{head} {name}{spaces}{written} sslmode=require"
    if name.islower():  # what libpq reads is what was meant
        assert conninfo_to_dict(conninfo)[name] == password
    shown = redact_url(conninfo)
    assert shown == f"{head} {name}{spaces}{MASK} sslmode=require"
    assert_hidden(password, shown, kept=shown.replace(MASK, ""))
    assert password in url_secrets(conninfo)


@pytest.mark.parametrize("char", list(RESERVED))
def test_every_reserved_character_in_every_place(char: str) -> None:
    password = f"pa{char}ss{char}w0rd"
    places = [
        f"postgresql://cst:{password}@db:5432/support",
        f"postgresql://cst:{quote(password, safe='')}@db:5432/support",
        f"http://proxyuser:{password}@127.0.0.1:3128",
        f"postgresql://cst@db:5432/support?password={quote(password, safe='')}",
        f"host=db user=cst password={libpq_quoted(password)}",
    ]
    if char not in "&":
        places.append(f"postgresql://cst@db:5432/support?sslmode=require&PassWord={password}")
    for place in places:
        shown = redact_url(place)
        assert_hidden(password, shown)
        assert "db" in shown or "127.0.0.1" in shown, shown
        assert redact_text(f"connecting to {place} failed").count(MASK) >= 1


@pytest.mark.parametrize(
    "password",
    [
        " >Lbu,@iQS;t;x,FR:s'Z\\3{Ri",
        "@%F7\tL\t!YY4d1Gu=cBE /;L=ET#V",
        "/m9:.Z\t(V>GqY@Xup$,Cp|$/,N",
        'a b\xa0c"d@e',
        "p w",
    ],
)
def test_a_password_with_blanks_in_a_url_in_free_text_is_masked(password: str) -> None:
    """An unknown password with blanks (and @) in a URL inside a message."""
    text = f"error: connecting to postgresql://cst:{password}@db.internal:5432/db failed; retry"
    shown = redact_text(text)
    assert shown == "error: connecting to postgresql://cst:***@db.internal:5432/db failed; retry"


def test_urls_without_secrets_are_kept() -> None:
    for url in [
        "postgresql://cst@db.internal:5432/support",
        "postgresql://db/support?sslmode=require&application_name=cst",
        "https://acme.zendesk.com/api/v2",
        "https://hooks.example.com/x?to=a@b.com",
        "/var/lib/cstoolkit/cstoolkit.db",
        "host=db port=5432 user=cst",
    ]:
        assert redact_url(url) == url
        assert url_secrets(url) == []


# -- free text -------------------------------------------------------------------------------


@given(password=passwords.filter(lambda p: len(p.strip()) >= 4))
def test_known_secret_is_masked_in_text_in_every_form(password: str) -> None:
    REDACTOR._secrets, REDACTOR._pattern = set(), None  # this example's secret alone
    REDACTOR.add(password)
    for form in forms(password):
        if len(form) < secrets.MIN_SECRET_LENGTH:
            continue
        text = f"error: the server said {form!s} (again: <{form}>)"
        assert_hidden(password, redact_text(text), kept="error: the server said (again: <>)")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("boom token=s3cr3tvalue", "s3cr3tvalue"),
        ("Authorization: Bearer abcdef123456 sent", "abcdef123456"),
        ("proxy-authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("curl -H 'X-Api-Key: s3cr3tv4lue' https://x", "s3cr3tv4lue"),
        ('{"password": "x y z", "user": "u"}', "x y z"),
        ('missing "=" after "host=h password=\'a b\\\' c\'" in connection info string', "a b"),
        ("api_key = 'zz zz zz'", "zz zz zz"),
        ("{'client_secret': 'cl-secret-1'}", "cl-secret-1"),
        ("connecting to postgresql://u:p%40ss@h/db failed", "p%40ss"),
        ("GET https://x.example/?access_token=tok123&page=2", "tok123"),
        ("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_secret_shapes_in_text_are_masked(text: str, secret: str) -> None:
    shown = redact_text(text)
    assert secret not in shown and MASK in shown


@pytest.mark.parametrize(
    "text",
    [
        "error: store.password: a plain password: use an env: or key: reference",
        "HTTP Basic authentication failed",
        "3 checks passed: 5",
        "tokens: 5 left",
        "zendesk_main: GET /api/v2/tickets -> 200 (0.120s)",
        "no key named 'desk'; add it with: cst keys set desk",
    ],
)
def test_prose_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_redactor_as_log_filter_masks_message_and_traceback() -> None:
    import logging

    REDACTOR.add("log-secret-value-1")
    try:
        raise RuntimeError("failed with log-secret-value-1")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "cstoolkit.x", logging.ERROR, __file__, 1, "tried %s token=%s", ("x", "abc123"),
            sys.exc_info(),
        )  # fmt: skip
    assert REDACTOR.filter(record)
    text = logging.Formatter().format(record)
    assert "log-secret-value-1" not in text and "abc123" not in text
    assert "tried x token=***" in text


# -- names, config values, command lines -------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "sslpassword",
        "api_key",
        "X-Api-Key",
        "access_token",
        "clientSecret",
        "Authorization",
        "token",
        "signing_keys",
        "--store-password",
        "PGPASSWORD",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "email",
        "base_url",
        "host",
        "user",
        "subdomain",
        "signature_header",
        "passfile",
        "author",
        "bypass",
        "sslkey",
        "path",
    ],
)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_value_walks_tables_and_keeps_references() -> None:
    assert redact_value("token", "env:ZD_TOKEN") == "env:ZD_TOKEN"
    assert redact_value("token", "literal-1") == MASK
    assert redact_value("url", "https://x/hook", secret=True) == MASK
    assert redact_value("headers", {"Authorization": "Bearer abc", "X-Trace": "1"}) == {
        "Authorization": MASK,
        "X-Trace": "1",
    }
    assert redact_value("proxy", "http://u:pw@127.0.0.1:3128") == "http://u:***@127.0.0.1:3128"
    assert redact_value("urls", ["postgresql://u:pw@h/db"]) == ["postgresql://u:***@h/db"]
    assert redact_value("token_renew_seconds", 300) == 300


def test_redact_argv() -> None:
    argv = ["cst", "--token", "abc", "--password=xyz", "sync", "pull", "--store-url",
            "postgresql://u:p@h/db", "x=1", "token=zz"]  # fmt: skip
    shown = redact_argv(argv)
    assert shown == ["cst", "--token", MASK, f"--password={MASK}", "sync", "pull", "--store-url",
                     "postgresql://u:***@h/db", "x=1", f"token={MASK}"]  # fmt: skip


# -- every command that prints a URL -------------------------------------------------------------


TRICKY = ["p#ss", "p?ss/w@rd", "a b:c%zz", "x@y@z", "%40%3A%2F"]


def _config(tmp_path: Path, store: str, proxy_password: str) -> Path:
    cfg = tmp_path / "cstoolkit.toml"
    cfg.write_text(
        f"[store]\n{store}\n"
        '[backends.z]\nplugin = "zendesk"\nsubdomain = "acme"\nemail = "a@b.example"\n'
        'token = "env:ZD_TOKEN"\n'
        f"proxy = {json.dumps(f'http://proxyuser:{proxy_password}@127.0.0.1:9')}\n"
        "max_retry_wait = 0\ntimeout = 1\n"
        '[channels.hook]\nplugin = "webhook"\n'
        f"url = {json.dumps(f'http://127.0.0.1:9/hook?token={proxy_password}x')}\n"
        'headers = {Authorization = "Bearer hdr-secret-123"}\n',
        "utf-8",
    )
    return cfg


def run_main(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``cst ARGS`` through the real entry point (exit codes and messages as a user sees them)."""
    from cstoolkit.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


PLACES = [
    'url = "postgresql://cst:{raw}@127.0.0.1:9/support"',
    'url = "postgresql://cst:{enc}@127.0.0.1:9/support"',
    'url = "postgresql://cst@127.0.0.1:9/support?sslmode=disable&password={enc}"',
]


@pytest.mark.parametrize(
    ("password", "place"),
    [(pw, PLACES[i % len(PLACES)]) for i, pw in enumerate(TRICKY)]
    + [(TRICKY[0], PLACES[1]), (TRICKY[1], PLACES[2])],
)
def test_config_show_check_status_doctor_never_print_the_password(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    place: str,
) -> None:
    monkeypatch.setenv("ZD_TOKEN", "zd-token-value-1")
    store = place.format(raw=password, enc=quote(password, safe=""))
    cfg = _config(tmp_path, store, password)
    seen = []
    for args in (
        ["config", "show"],
        ["config", "show", "--json"],
        ["config", "check", "--json"],
        ["config", "path"],
        ["status"],
        ["status", "--json"],
        ["doctor"],
    ):
        code, out, err = run_main("--config", str(cfg), *args, capsys=capsys)
        seen.append((args, code, out + err))
        assert_hidden(password, out + err)
        assert "hdr-secret-123" not in out + err
    shown = {tuple(a): text for a, _, text in seen}
    assert "127.0.0.1:9" in shown[("config", "show")]
    assert "proxyuser:***@127.0.0.1:9" in shown[("config", "show")]
    assert "holds a password" in shown[("config", "check", "--json")]
    assert [code for _, code, _ in seen][4] == 1  # status: the store cannot be reached


# -- a real PostgreSQL server ------------------------------------------------------------------


#: Passwords libpq reads differently (as a port, a host, query parameters) whose pieces it
#: echoed, quoted or not, before they were masked (found by random runs against the server).
ECHOED = [
    "000001/",
    '>"00000/',
    'H{gB/Mr*\n(?"^#v2(',
    "@,9t>kB\\2{e:#J%$\\C4}?Ke!",
    'g"-[#%\x0b=;@*',
    '/~Sz<H\u20ac }"e*]\tQY!;^\xe4\xe9&',
    '?"X;1<e`D-8#j/;LR=9A05!$',
]


@given(password=passwords.filter(lambda p: "\x00" not in p and len(p) >= 6), encoded=st.booleans())
@example(password=ECHOED[0], encoded=False)
@example(password=ECHOED[1], encoded=False)
@example(password=ECHOED[2], encoded=False)
@example(password=ECHOED[3], encoded=False)
@example(password=ECHOED[4], encoded=False)
@example(password=ECHOED[5], encoded=False)
@example(password=ECHOED[6], encoded=False)
def test_postgresql_connection_errors_never_echo_the_password(
    pg_server: PgServer, password: str, encoded: bool
) -> None:
    """libpq's errors quote the piece of the URL it choked on; none of the password survives.

    The server trusts every local user, so the connection is made to fail with a database that
    does not exist (``hostaddr`` keeps libpq off DNS whatever it makes of the host)."""
    from cstoolkit.errors import StoreError
    from cstoolkit.store import open_store

    REDACTOR._secrets, REDACTOR._pattern = set(), None  # as in a new process
    written = quote(password, safe="") if encoded else password
    url = (
        f"postgresql://localhost:{written}@127.0.0.1:{pg_server.port}/cst_nosuch"
        "?hostaddr=127.0.0.1&connect_timeout=5"
    )
    with pytest.raises(StoreError) as caught:
        open_store(url).close()
    message = str(caught.value)
    without = url.replace(written, "")
    assert_hidden(password, message, kept=without)
    for size in (6,):
        for i in range(len(password) - size + 1):
            piece = password[i : i + size]
            assert piece not in message or piece in without, f"{piece!r} in {message!r}"


def test_postgresql_status_and_doctor_against_the_real_server(
    pg_server: PgServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ZD_TOKEN", "zd-token-value-1")
    for password in TRICKY[1:4]:
        for written in (password, quote(password, safe="")):
            store = (
                f'url = "postgresql://localhost:{written}@127.0.0.1:{pg_server.port}/cst_nosuch'
                '?hostaddr=127.0.0.1"'
            )
            cfg = _config(tmp_path, store, password)
            for args in (["status"], ["doctor", "--json"]):
                code, out, err = run_main("--config", str(cfg), *args, capsys=capsys)
                assert code in (1, 2), (args, out, err)
                assert_hidden(password, out + err)
                assert "error" in err or "fail" in out + err


def test_a_store_url_whose_password_is_not_utf8_is_a_store_error(tmp_path: Path) -> None:
    """``%e9`` decodes to a byte that is not UTF-8: a clear store error, not an internal one."""
    from cstoolkit.errors import StoreError
    from cstoolkit.store import open_store

    with pytest.raises(StoreError, match="cannot open the store") as caught:
        open_store("postgresql://cst:ab%e9cd-secret@127.0.0.1:9/support")
    assert "ab%e9cd-secret" not in str(caught.value) and "cd-secret" not in str(caught.value)
