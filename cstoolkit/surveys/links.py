"""One-click answer links signed with HMAC-SHA256, with expiry and key rotation.

A token is ``KID.PAYLOAD.MAC`` (URL-safe base64, no padding): ``KID`` names the signing key,
``PAYLOAD`` is ``{"k": offer key, "e": expiry (unix seconds)}`` and ``MAC`` is
HMAC-SHA256(key[KID], "KID.PAYLOAD"). New links are signed with the *current* key; every key
still configured verifies, so after a rotation old links keep working until they expire (keep
the old key configured for ``link_ttl`` after rotating, then remove it).

The token authorises answering (and opting out of) one offer; the score is not part of it, since
the person may change their mind on the page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from cstoolkit.errors import ConfigError

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MIN_KEY_BYTES = 16


class LinkError(Exception):
    """A token that cannot be used; ``reason`` is ``invalid`` or ``expired``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    offer_key: str
    expires: int
    kid: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(
        self, keys: dict[str, str], current: str | None = None, *, field: str = ""
    ) -> None:
        if not keys:
            raise ConfigError("at least one signing key is required", field=field)
        for kid, secret in keys.items():
            if not _KID.match(kid):
                raise ConfigError(f"key id {kid!r}: use 1-32 letters, digits, - or _", field=field)
            if len(secret.encode()) < MIN_KEY_BYTES:
                raise ConfigError(
                    f"key {kid!r} is too short (at least {MIN_KEY_BYTES} bytes; generate one "
                    "with: python -c 'import secrets; print(secrets.token_urlsafe(32))')",
                    field=field,
                )
        if current is None:
            if len(keys) > 1:
                raise ConfigError(
                    "several signing keys: say which one signs new links with current_key",
                    field=field,
                )
            current = next(iter(keys))
        if current not in keys:
            raise ConfigError(f"current_key {current!r} is not among signing_keys", field=field)
        self._keys = {kid: secret.encode() for kid, secret in keys.items()}
        self.current = current

    def _mac(self, kid: str, signed: str) -> bytes:
        return hmac.new(self._keys[kid], signed.encode("ascii"), hashlib.sha256).digest()

    def sign(self, offer_key: str, expires: datetime | int, kid: str | None = None) -> str:
        kid = kid if kid in self._keys else self.current
        assert kid is not None
        exp = expires if isinstance(expires, int) else int(expires.timestamp())
        payload = _b64(json.dumps({"k": offer_key, "e": exp}, separators=(",", ":")).encode())
        signed = f"{kid}.{payload}"
        return f"{signed}.{_b64(self._mac(kid, signed))}"

    def verify(self, token: str, now: datetime) -> Claims:
        parts = token.split(".")
        if len(parts) != 3 or not _KID.match(parts[0]):
            raise LinkError("invalid", "malformed token")
        kid, payload, mac = parts
        if kid not in self._keys:
            raise LinkError("invalid", f"unknown signing key {kid!r}")
        try:
            given = _unb64(mac)
        except (ValueError, TypeError):
            raise LinkError("invalid", "malformed signature") from None
        if not hmac.compare_digest(given, self._mac(kid, f"{kid}.{payload}")):
            raise LinkError("invalid", "bad signature")
        try:
            data = json.loads(_unb64(payload))
            claims = Claims(str(data["k"]), int(data["e"]), kid)
        except (ValueError, KeyError, TypeError):
            raise LinkError("invalid", "malformed payload") from None
        if now.timestamp() >= claims.expires:
            raise LinkError("expired", "link expired")
        return claims


def peek_offer_key(token: str) -> str | None:
    """The offer key a token claims, *unverified* (to find which survey's keys verify it)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        return str(json.loads(_unb64(parts[1]))["k"])
    except (ValueError, KeyError, TypeError):
        return None


def survey_url(base: str, token: str, score: int | None = None) -> str:
    url = f"{base.rstrip('/')}/s/{quote(token, safe='.-_')}"
    return url if score is None else f"{url}?score={score}"


def optout_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/u/{quote(token, safe='.-_')}"
