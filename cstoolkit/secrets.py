"""Secret references, the keys file, and the one redaction mechanism.

A secret setting in cstoolkit.toml holds a *reference*, resolved only when a plugin instance is
built: ``env:NAME`` (an environment variable), ``key:NAME`` (the 0600 keys file managed by
``cst keys``), or ``keyring:SERVICE/NAME`` (the system keyring, when the ``keyring`` package is
installed). Every resolved value is added to :data:`REDACTOR`.

Redaction happens here and nowhere else (docs/security.md, "Secrets"):

* :func:`redact_url` masks the password of one URL-shaped value wherever it can sit: the
  userinfo (raw or percent-encoded, whatever characters it holds), secret-named query
  parameters, and libpq ``key=value`` connection strings;
* :func:`redact_text` masks free text: every known secret value (:data:`REDACTOR`, also in its
  percent-encoded and decoded forms), every URL in it (:func:`redact_url`), ``token=...``-shaped
  assignments and ``Authorization: Bearer ...`` credentials;
* :func:`redact_value` is what ``cst config show`` prints for one setting;
* :func:`redact_argv` masks a command line (crash reports).

Everything errs on the side of hiding: when a URL is ambiguous (a raw ``@`` in the password
and another in the query), more is masked rather than less.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, unquote_plus

from cstoolkit.errors import ConfigError
from cstoolkit.secret_urls import HOSTPART as _HOSTPART
from cstoolkit.secret_urls import (  # re-exported: callers import these from here
    MASK,
    MIN_SECRET_LENGTH,
    is_secret_name,
    redact_echo,  # noqa: F401
    redact_url,
    url_secrets,
)
from cstoolkit.secret_urls import url_spans as _url_spans
from cstoolkit.secret_urls import within_secrets as _within_secrets

REFERENCE_PREFIXES = ("env:", "key:", "keyring:")


def is_reference(value: object) -> bool:
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIXES)


class Redactor(logging.Filter):
    """The known secret values, masked in text and log records.

    Every value :func:`resolve` returns is added, with its percent-encoded and decoded forms
    (a password shows up encoded in a URL). As a :class:`logging.Filter` it runs
    :func:`redact_text` over the message and the traceback of every record it sees.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        """Learn a secret value in every form of :func:`secret_forms` (values under 4
        characters are not learnt: they would mangle ordinary text)."""
        if not value or not isinstance(value, str):
            return
        added = {f for f in secret_forms(value) if len(f) >= MIN_SECRET_LENGTH} - self._secrets
        if added:
            self._secrets |= added
            self._pattern = None

    def known(self, text: str) -> str:
        """``text`` with every known secret value masked (nothing else)."""
        if not self._secrets:
            return text
        if self._pattern is None:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in ordered))
        return self._pattern.sub(MASK, text)

    def redact(self, text: str) -> str:
        """``text`` with the values this redactor knows and every secret-shaped part masked
        (:func:`redact_text` is this, for :data:`REDACTOR`; plugins call ``REDACTOR.redact``)."""
        if not text:
            return text
        text = self.known(text)
        if "://" in text:
            text = _redact_urls_in_text(text)
        text = _mask_assignments(text)
        return _SCHEME_CREDENTIALS.sub(_scheme_credentials, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def secret_forms(value: str) -> list[str]:
    """The forms a secret takes in text: as is, percent-encoded (``quote``, ``quote_plus``),
    percent-decoded (a URL's password is written encoded), and JSON-escaped (``\\uXXXX`` or
    not, ``\\/`` or not), so an error body or a JSON document echoing it is masked too."""
    forms = [value, quote(value, safe=""), quote_plus(value, safe=""), unquote(value)]
    with contextlib.suppress(ValueError):
        forms.append(unquote_plus(value))
    for escaped in (json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]):
        forms += [escaped, escaped.replace("/", "\\/")]
    return list(dict.fromkeys(forms))


REDACTOR = Redactor()


def learn_url(url: str | None) -> None:
    """Add the secrets a URL holds to :data:`REDACTOR` (before it is handed to a library whose
    errors may quote it)."""
    if url:
        for value in url_secrets(str(url)):
            REDACTOR.add(value)


def learn_reading(url: str, fields: Mapping[str, object]) -> None:
    """Add to :data:`REDACTOR` the values another parser read from ``url`` that lie inside its
    secrets: libpq reads ``postgresql://u:1234/x@h/db`` as port ``1234``, and says so in its
    errors, unquoted."""
    spans = _url_spans(url)
    for value in fields.values():
        if isinstance(value, str) and value:
            for form in (value, quote(value, safe="")):
                if _within_secrets(url, spans, form):
                    REDACTOR.add(value)


# -- free text ---------------------------------------------------------------------------------

_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
#: ``scheme://user:`` followed by something other than a port: a password starts here.
_PASSWORD_STARTS = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:(?!\d+(?:[/?#]|\Z))")
#: ``name = value`` / ``name: value`` / ``"name": "value"`` (a secret ``name`` is checked in code).
#: ``name = `` / ``name: `` / ``"name": `` (whether ``name`` is secret is decided in code).
_ASSIGNED_NAME = re.compile(
    r"""(?P<name>(?<![\w.-])(?P<q>["']?)[A-Za-z_][\w.-]*(?P=q))(?P<sep>[ \t]*[=:][ \t]*)"""
)
#: The value after a secret name: quoted (to its closing quote), an auth scheme and its
#: credentials, or a run of non-blanks.
_ASSIGNED_VALUE = re.compile(
    r""""(?:\\.|[^"\\\n])*"?|'(?:\\.|[^'\\\n])*'?"""
    r"""|(?:Bearer|Basic|Token|Digest|Negotiate)[ \t]+[^\s&'"]+|[^\s&'"<>]+""",
    re.I,
)
#: Credentials after an HTTP auth scheme, wherever they appear.
_SCHEME_CREDENTIALS = re.compile(r"(?<![\w-])(Bearer|Basic|Token)([ \t]+)([A-Za-z0-9._~+/=-]{8,})")
#: Names whose ``name: value`` form is a header (other names need ``=`` or quotes).
_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate"})


def _mask_assignments(text: str) -> str:
    """Values assigned to secret names masked (``token=x``, ``"password": "x"``,
    ``Authorization: Bearer x``); a name that is not secret never hides what follows it."""
    out: list[str] = []
    pos = 0
    for m in _ASSIGNED_NAME.finditer(text):
        if m.start() < pos:
            continue
        bare = m["name"].strip("\"'")
        if not is_secret_name(bare):
            continue
        if ":" in m["sep"] and not (m["q"] or "-" in bare or bare.lower() in _HEADERS):
            continue  # "store.password: a plain password" is a message, not a secret
        value = _ASSIGNED_VALUE.match(text, m.end())
        if value is None or value.group(0).strip("\"'").startswith(MASK):
            continue
        written = value.group(0)
        if written[:1] in "\"'":
            masked = f"{written[0]}{MASK}{written[0]}"
        else:
            scheme, space, _ = written.partition(" ")
            masked = f"{scheme} {MASK}" if space and scheme.lower() in _AUTH_SCHEMES else MASK
        out.append(text[pos : m.end()] + masked)
        pos = value.end()
    out.append(text[pos:])
    return "".join(out)


def _scheme_credentials(m: re.Match[str]) -> str:
    token = m.group(3)
    if token == MASK or not (
        re.search(r"[0-9._~+/=-]", token)
        or (re.search(r"[a-z]", token) and re.search(r"[A-Z]", token[1:]))
    ):
        return m.group(0)  # "Basic authentication" is prose
    return f"{m.group(1)}{m.group(2)}{MASK}"


def _redact_urls_in_text(text: str) -> str:
    """Every URL of ``text`` through :func:`redact_url`. A URL ends at a blank, except that a
    userinfo password may hold blanks: after ``scheme://user:``, the URL runs on to the last
    ``@`` of the line that is followed by a host."""
    out: list[str] = []
    pos = 0
    for m in _URL_IN_TEXT.finditer(text):
        if m.start() < pos:
            continue
        end = m.end()
        if _PASSWORD_STARTS.match(m.group(0)):
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
            for at in reversed([i for i in range(end, line_end) if text[i] == "@"]):
                host = re.split(r"[/?#\s]", text[at + 1 : line_end], maxsplit=1)[0]
                if host and _HOSTPART.fullmatch(host):
                    blank = re.compile(r"\s").search(text, at)
                    end = blank.start() if blank else len(text)
                    break
        out.append(text[pos : m.start()])
        out.append(redact_url(text[m.start() : end]))
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_text(text: str) -> str:
    """Free text (a message, a log line, a traceback, a step's stderr) with secrets masked.

    Masks every value :data:`REDACTOR` knows, the secrets of every URL in the text
    (:func:`redact_url`), values assigned to secret names (``token=...``, ``password='...'``,
    ``"api_key": "..."``, ``Authorization: Bearer ...``) and credentials after ``Bearer`` or
    ``Basic``.
    """
    return REDACTOR.redact(text)


def redact_value(name: str, value: Any, *, secret: bool = False) -> Any:
    """A setting as ``cst config show`` prints it.

    A reference (``env:NAME``) is shown: it is not the secret. A setting declared ``secret`` is
    masked whole; a string (or table) under a secret-looking ``name`` is masked; any other
    string goes through :func:`redact_text` (URLs lose their passwords); tables and lists are
    walked, so ``headers = {Authorization = "..."}`` is masked too.
    """
    if is_reference(value):
        return value
    if secret or (is_secret_name(name) and isinstance(value, str | dict | list)):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(name, v) for v in value]
    return value


def learn_value(value: Any, env: Mapping[str, str] | None = None) -> None:
    """Add a secret setting's value to :data:`REDACTOR` without using it: a literal, an
    ``env:`` or ``key:`` reference resolved where it can be (a keyring is never asked), every
    string of a table or list, and the secrets of a URL."""
    if isinstance(value, Mapping):
        for item in value.values():
            learn_value(item, env)
    elif isinstance(value, list):
        for item in value:
            learn_value(item, env)
    elif isinstance(value, str):
        if not is_reference(value):
            REDACTOR.add(value)
            learn_url(value)
        elif not value.startswith("keyring:"):
            with contextlib.suppress(ConfigError, OSError):
                learn_url(resolve(value, field="-", env=env))


def learn_mapping(data: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
    """Add every secret a config mapping holds to :data:`REDACTOR` (for crash reports): the
    values under secret-looking names (:func:`learn_value`) and the secrets of every URL."""
    for key, value in data.items():
        if is_secret_name(str(key)):
            learn_value(value, env)
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Mapping):
                learn_mapping(item, env)
            elif isinstance(item, str):
                learn_url(item)


def redact_argv(argv: list[str]) -> list[str]:
    """A command line safe to record: values of secret-named options (``--token X``,
    ``--password=X``) masked and added to :data:`REDACTOR` (so the rest of a report masks them
    too), every other argument through :func:`redact_text` (URLs, ``token=...``)."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            REDACTOR.add(arg)
            out.append(MASK)
            hide_next = False
            continue
        if arg.startswith("-") and len(arg) > 1 and not arg.startswith("---"):
            name, eq, value = arg.partition("=")
            if is_secret_name(name.lstrip("-")):
                if eq:
                    REDACTOR.add(value)
                    out.append(f"{name}={MASK}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(redact_text(arg))
    return out


def keys_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("CSTOOLKIT_KEYS_FILE"):
        return Path(env["CSTOOLKIT_KEYS_FILE"])
    from platformdirs import user_config_dir

    return Path(user_config_dir("cstoolkit")) / "keys.json"


def load_keys(path: Path | None = None) -> dict[str, str]:
    path = path or keys_path()
    if not path.exists():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(
            f"keys file is accessible by other users (mode {mode:04o}); run: chmod 600 {path}",
            path=str(path),
        )
    try:
        data = json.loads(path.read_text("utf-8"))
    except ValueError as exc:
        raise ConfigError(f"keys file is not valid JSON: {exc}", path=str(path)) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ConfigError("keys file must hold a JSON object of strings", path=str(path))
    return data


def save_keys(keys: Mapping[str, str], path: Path | None = None) -> Path:
    """Write the keys file atomically, created with mode 0600 from the start."""
    path = path or keys_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(keys.items())), fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def set_key(name: str, value: str, path: Path | None = None) -> Path:
    _check_key_name(name)
    keys = load_keys(path)
    keys[name] = value
    return save_keys(keys, path)


def remove_key(name: str, path: Path | None = None) -> bool:
    keys = load_keys(path)
    if name not in keys:
        return False
    del keys[name]
    save_keys(keys, path)
    return True


def _check_key_name(name: str) -> None:
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ConfigError(f"invalid key name {name!r} (use letters, digits, - _ .)")


def resolve(value: str, *, field: str, env: Mapping[str, str] | None = None) -> str:
    """Resolve a secret reference to its value; a plain value is returned as it is."""
    env = os.environ if env is None else env
    if value.startswith("env:"):
        name = value[4:]
        if name not in env:
            raise ConfigError(f"environment variable {name} is not set", field=field)
        secret = env[name]
    elif value.startswith("key:"):
        name = value[4:]
        keys = load_keys(keys_path(env))
        if name not in keys:
            raise ConfigError(
                f"no key named {name!r}; add it with: cst keys set {name}", field=field
            )
        secret = keys[name]
    elif value.startswith("keyring:"):
        service, _, user = value[8:].partition("/")
        try:
            import keyring
        except ImportError:
            raise ConfigError(
                "keyring reference used but the keyring package is not installed "
                "(pip install 'cstoolkit[keyring]')",
                field=field,
            ) from None
        found = keyring.get_password(service, user)
        if found is None:
            raise ConfigError(
                f"no keyring entry for service {service!r} user {user!r}", field=field
            )
        secret = found
    else:
        secret = value
    REDACTOR.add(secret)
    return secret
