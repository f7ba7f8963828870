"""Reading secrets out of URLs and connection strings, and what names a secret.

A store or webhook URL holds its secrets in its password, in query parameters with secret names
(``?token=...``) or, for libpq connection strings, in ``password=`` pairs. :func:`url_spans`
finds them in every form a URL takes; :func:`redact_url` masks them; :func:`redact_echo` masks
what a library echoed of them. :mod:`cstoolkit.secrets` (the redaction mechanism, which learns
these secrets) re-exports every public name here.
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import unquote, unquote_plus

MASK = "***"

#: Values shorter than this are not masked as known secrets (they would mangle ordinary text).
MIN_SECRET_LENGTH = 4

# -- what is secret ----------------------------------------------------------------------------

#: Words that make a name (setting, query parameter, libpq keyword, option, header) secret.
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "passphrase", "pass", "pwd", "pw", "secret", "secrets", "token",
        "tokens", "credential", "credentials", "apikey", "auth", "authorization", "cookie", "sig",
        "key", "keys", "privatekey",
    }
)  # fmt: skip
#: Substrings that make a name secret wherever they sit (``sslpassword``, ``authtoken``).
_SECRET_PARTS = ("password", "passwd", "secret", "token", "apikey", "credential")
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def is_secret_name(name: str) -> bool:
    """Whether a setting, parameter, option or header called ``name`` holds a secret.

    ``password``, ``sslpassword``, ``api_key``, ``X-Api-Key``, ``access_token``, ``clientSecret``,
    ``Authorization``, ``--token``: yes. ``token_url`` too (erring on the side of hiding);
    ``email``, ``base_url``, ``host``: no.
    """
    lowered = name.lower()
    if any(part in lowered.replace("_", "").replace("-", "") for part in _SECRET_PARTS):
        return True
    return any(word.lower() in _SECRET_WORDS for word in _WORDS.findall(name))


# -- URLs and connection strings ---------------------------------------------------------------

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
#: What may follow the ``@`` of a userinfo up to the path: hosts (names, IPv4, [IPv6], %-encoded
#: socket directories), ports, and libpq's comma-separated host lists.
HOSTPART = re.compile(r"(?:\[[^\]\s/?#@]*\]|[^/?#@\s\"'<>\\\[\]`])*")
#: A query parameter starts at ``&`` followed by ``name=``.
_PARAM_START = re.compile(r"&(?=[^&=#\s]+=)")
#: libpq ``keyword = value``: a value is single-quoted (``\'`` and ``\\`` escaped; unterminated
#: runs to the end) or a run of non-blanks in which a backslash escapes the next character.
_CONNINFO_PAIR = re.compile(
    r"(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<eq>\s*=\s*)"
    r"(?P<value>'(?:\\.|[^'\\])*(?:'|\\?\Z)|(?:\\.|[^\s\\])*\\?)",
    re.S,
)
_CONNINFO_START = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")


def _readings(rest: str) -> list[int]:
    """Where the userinfo of ``rest`` (a URL after ``scheme://``) may end: each index of an
    ``@`` that can end it, and -1 for "no userinfo".

    A password written raw may hold ``@ / ? # :``, and libpq, Python and a person read such a
    URL differently (libpq ends the userinfo at the first ``@``, unless a ``/`` comes before
    it; a person means the last ``@``). Every ``@`` followed by something that can be a host
    list is a possible end (the last ``@`` when none is); "no userinfo" is possible when there
    is no ``@`` or a ``/`` comes first. Masking what every reading calls secret never leaks.
    """
    ats = [i for i, ch in enumerate(rest) if ch == "@"]
    ends = [
        at for at in ats if HOSTPART.fullmatch(re.split(r"[/?#]", rest[at + 1 :], maxsplit=1)[0])
    ]
    if ats and not ends:
        ends = [ats[-1]]
    slash = rest.find("/")
    if not ats or 0 <= slash < ats[0]:
        ends.append(-1)
    return ends


def _query_spans(url: str, start: int) -> list[tuple[int, int]]:
    """The values of the secret-named parameters of the query that starts at ``start``.

    A value runs to the next ``&name=`` (so a raw ``&`` or ``#`` inside it stays masked)."""
    spans: list[tuple[int, int]] = []
    query = url[start:]
    bounds = [0] + [m.start() + 1 for m in _PARAM_START.finditer(query)] + [len(query) + 1]
    for lo, hi in itertools.pairwise(bounds):
        name, eq, value = query[lo : hi - 1].partition("=")
        if eq and value and is_secret_name(unquote_plus(name)):
            spans.append((start + lo + len(name) + 1, start + hi - 1))
    return spans


def url_spans(url: str) -> list[tuple[int, int]]:
    """(start, end) of every secret in one URL or libpq connection string, merged."""
    spans: list[tuple[int, int]] = []
    scheme = _SCHEME.match(url)
    if scheme is None:
        if _CONNINFO_START.match(url):
            for m in _CONNINFO_PAIR.finditer(url):
                if is_secret_name(m["key"]) and m["value"]:
                    spans.append(m.span("value"))
        return spans
    base = scheme.end()
    rest = url[base:]
    for at in _readings(rest):
        if at >= 0:
            colon = rest.find(":", 0, at)
            if 0 <= colon < at - 1:
                spans.append((base + colon + 1, base + at))
        question = rest.find("?", at + 1)
        if question >= 0:
            spans.extend(_query_spans(url, base + question + 1))
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    for lo, hi in reversed(spans):
        text = text[:lo] + MASK + text[hi:]
    return text


def redact_url(url: str) -> str:
    """``url`` with every secret it holds replaced by ``***``; the rest kept as written.

    A URL (``postgresql://user:p@ss@host:5432/db?sslpassword=x``, a proxy
    ``http://user:pw@proxy:3128``) loses its userinfo password and the values of its
    secret-named query parameters; a libpq connection string (``host=db password='a b'``) the
    values of its secret keywords. Any other value is returned as it is.
    """
    return _mask_spans(url, url_spans(url)) if isinstance(url, str) else url


def url_secrets(url: str) -> list[str]:
    """The secret values one URL or connection string holds, as written and decoded."""
    out: list[str] = []
    for lo, hi in url_spans(url):
        raw = url[lo:hi]
        out.append(raw)
        if raw.startswith("'") and raw.endswith("'") and len(raw) >= 2:
            raw = raw[1:-1]
        out.append(re.sub(r"\\(.)", r"\1", raw, flags=re.S))
        out.append(unquote(raw))
    return [v for v in dict.fromkeys(out) if v]


def within_secrets(url: str, spans: list[tuple[int, int]], fragment: str) -> bool:
    """Whether ``fragment`` occurs in ``url`` only inside its secrets (``spans``)."""
    start = url.find(fragment)
    if start < 0:
        return False
    while start >= 0:
        end = start + len(fragment)
        if all(end <= lo or start >= hi for lo, hi in spans):
            return False
        start = url.find(fragment, start + 1)
    return True


def redact_echo(text: str, url: str) -> str:
    """``text``, a library's error about ``url``, with the pieces of the URL's secrets it
    echoes masked: a quoted fragment that occurs in the URL only inside its secrets, and any
    run of :data:`MIN_SECRET_LENGTH` or more characters that is part of a secret.

    libpq quotes the piece of a connection string it choked on (``invalid percent-encoded
    token: "p%zz"``, ``failed to resolve host 'b@h'``); when it reads a raw password
    differently than :func:`redact_url` does, that piece can be a part of the password, or a
    part of it and of what follows.
    """
    spans = url_spans(url)
    if not spans:
        return text

    def quoted(m: re.Match[str]) -> str:
        if m.group(2) and within_secrets(url, spans, m.group(2)):
            return f"{m.group(1)}{MASK}{m.group(1)}"
        return m.group(0)

    text = re.sub(r"([\"'])(.*?)\1", quoted, text, flags=re.S)
    for secret in url_secrets(url):
        text = _mask_pieces(text, secret)
    return text


def _mask_pieces(text: str, secret: str) -> str:
    """Every run of at least MIN_SECRET_LENGTH characters of ``text`` found in ``secret``."""
    if len(secret) < MIN_SECRET_LENGTH:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        size = 0
        while i + size < len(text) and text[i : i + size + 1] in secret:
            size += 1
        if size >= MIN_SECRET_LENGTH:
            out.append(MASK)
            i += size
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
