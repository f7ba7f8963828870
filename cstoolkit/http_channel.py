"""Channels (and survey providers) that talk HTTP, through the one HTTP layer.

Every HTTP channel sends through :class:`cstoolkit.http.HttpClient`, so each one gets the same
retries, rate-limit handling, budgets, proxies and redaction. A channel built on
:class:`HttpChannel` is mostly a table of declarations::

    class AcmeChannel(HttpChannel):
        name = "acme"
        settings = (
            Setting("token", required=True, secret=True, help="API token."),
            *http_channel_settings(base_url="https://api.acme.example", timeout=15.0),
        )
        bearer_setting = "token"  # Authorization: Bearer <token>
        permanent_codes = frozenset({"invalid_recipient"})  # vendor codes: this message only
        stop_codes = frozenset({"account_suspended"})  # vendor codes: stop for the run

        def send(self, message):
            response = self.post("/v1/messages", json={"to": ..., "text": message.short})
            if isinstance(response, DeliveryResult):  # the HTTP layer's verdict
                return response
            data = self.accepted_json(response)
            if isinstance(data, DeliveryResult):
                return data
            return DeliveryResult.sent(data["id"])

Delivery semantics (:func:`delivery_failure`): a POST is retried only when nothing can have
happened yet (connection refused or a connect timeout, a 429) unless the channel marks it
``idempotent=True`` (it carries an idempotency key the provider deduplicates); a timeout or a
broken connection after the request went out, or a 5xx answer to it, is ``unknown`` (the
engine then looks it up, or leaves the survey ``in_doubt``); 401/403 and an unreachable or
rate-limited server stop the channel for the run; 400/404/410/422 and the vendor codes in
``permanent_codes`` are permanent failures. Messages carry the vendor's error details (field
and message, redacted: :mod:`cstoolkit.http_errors`).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote, urlsplit

from cstoolkit.errors import AuthError, BackendError, ConfigError
from cstoolkit.http import (
    HttpClient,
    HttpError,
    RequestInDoubt,
    RetriesExhausted,
    check_base_url,
    http_settings,
)
from cstoolkit.messages import DeliveryResult
from cstoolkit.plugin import Channel, PluginBase, Setting

if TYPE_CHECKING:
    import httpx

#: HTTP statuses that say "this message will never be accepted as it is".
PERMANENT_STATUSES = frozenset({400, 404, 410, 422})

_SENSITIVE_HEADER = re.compile(r"auth|token|key|secret|cookie|session|password|signature", re.I)


def http_channel_settings(
    *,
    base_url: str | None = None,
    timeout: float = 10.0,
    max_retry_wait: float = 60.0,
    default_rate_limit_wait: float = 60.0,
    retries: int = 2,
) -> tuple[Setting, ...]:
    """The HTTP settings of a channel or survey provider, with its defaults (docs/http.md).

    With ``base_url`` the plugin talks to one vendor API at that address (a setting the user
    may override); without it the plugin has its own ``url`` setting. ``retries`` is how many
    times one request may be sent again within a run (429s always; 5xx and timeouts only for
    idempotent requests).
    """
    out: list[Setting] = []
    common = http_settings(
        timeout=timeout,
        max_retry_wait=max_retry_wait,
        default_rate_limit_wait=default_rate_limit_wait,
    )
    for setting in common:
        if setting.name == "budget_share":  # one sender per account: nothing to share
            continue
        if setting.name == "base_url":
            if base_url is not None:
                out.append(dataclasses.replace(setting, default=base_url))
            continue
        out.append(setting)
    out.append(
        Setting(
            "retries",
            "int",
            default=retries,
            minimum=0,
            help="Times one request may be sent again within a run (429s; 5xx and timeouts "
            "only when the request is idempotent).",
        )
    )
    return tuple(out)


def settings_with_defaults(plugin: PluginBase) -> dict[str, Any]:
    """The plugin's config with each declared default filled in where the value is missing."""
    values = {s.name: s.default for s in type(plugin).settings if s.default is not None}
    config: Mapping[str, Any] = getattr(plugin, "config", {})
    values.update({k: v for k, v in config.items() if v is not None})
    return values


def plugin_http_client(
    plugin: PluginBase,
    *,
    label: str,
    default_base_url: str | None = None,
    secrets: tuple[str, ...] = (),
    **kwargs: Any,
) -> HttpClient:
    """An :class:`HttpClient` for a channel or survey provider, built from its settings.

    Every value of a setting declared ``secret=True`` is redacted from the client's messages and
    logs, with ``secrets`` besides. ``retries`` becomes ``max_attempts`` (1 + retries).
    """
    config = settings_with_defaults(plugin)
    hidden = [str(config[name]) for name in type(plugin).secret_settings() if config.get(name)]
    if "max_attempts" not in kwargs and config.get("retries") is not None:
        kwargs["max_attempts"] = max(0, int(config["retries"])) + 1
    return HttpClient.from_settings(
        config,
        label=label,
        default_base_url=default_base_url,
        secrets=[*hidden, *secrets],
        **kwargs,
    )


def delivery_failure(
    exc: Exception,
    *,
    permanent_codes: frozenset[str] = frozenset(),
    stop_codes: frozenset[str] = frozenset(),
) -> DeliveryResult:
    """What an error of the HTTP layer means for one delivery (see the module docstring).

    ``permanent_codes`` / ``stop_codes`` are vendor error codes (as text, e.g. Twilio's
    ``"21610"``, Slack's ``"channel_not_found"``) that make a failure permanent for this
    message, or stop the channel for the run (an account-wide limit is never permanent for one
    message). Anything that is not an error of the HTTP layer is re-raised.
    """
    if isinstance(exc, AuthError | ConfigError):  # nothing was accepted; the next would fail too
        return DeliveryResult.failed(str(exc), stop=True)
    if isinstance(exc, HttpError):
        code = exc.vendor.code
        stop = code in stop_codes
        if exc.maybe_applied:
            return DeliveryResult.unknown(exc.detail, stop=stop)
        permanent = not stop and (exc.status in PERMANENT_STATUSES or code in permanent_codes)
        return DeliveryResult.failed(exc.detail, stop=stop, permanent=permanent)
    if isinstance(exc, RequestInDoubt):
        return DeliveryResult.unknown(str(exc))
    if isinstance(exc, RetriesExhausted):
        if exc.maybe_applied:  # an attempt may have got through before the retries ran out
            return DeliveryResult.unknown(str(exc), stop=exc.kind in ("rate", "network"))
        return DeliveryResult.failed(str(exc), stop=True)  # rate limited or unreachable
    if isinstance(exc, BackendError):
        return DeliveryResult.failed(str(exc), stop=True)
    raise exc


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up at call time, so a test's patch of time.sleep applies


class HttpChannel(Channel):
    """A channel that sends through :mod:`cstoolkit.http` (see the module docstring)."""

    requires: ClassVar[tuple[str, ...]] = ("httpx",)
    #: The vendor API's address; a ``base_url`` setting overrides it.
    default_base_url: ClassVar[str | None] = None
    #: A setting holding the whole URL to post to (``webhook``, ``slack_webhook``) instead.
    url_setting: ClassVar[str | None] = None
    #: A secret setting sent as ``Authorization: Bearer <value>``.
    bearer_setting: ClassVar[str | None] = None
    #: Two settings sent as HTTP basic auth (user, password).
    basic_auth_settings: ClassVar[tuple[str, str] | None] = None
    #: What a 401/403 message tells the user to check.
    auth_hint: ClassVar[str] = ""
    #: Vendor error codes (text) that are permanent for this message / stop the channel.
    permanent_codes: ClassVar[frozenset[str]] = frozenset()
    stop_codes: ClassVar[frozenset[str]] = frozenset()
    #: First backoff in seconds after a 5xx or a timeout (idempotent requests only).
    backoff_base: ClassVar[float] = 1.0
    #: Sleeps between retries (tests replace it).
    sleep = staticmethod(_sleep)
    #: An httpx transport used instead of the network (tests: ``httpx.MockTransport``).
    transport: Any = None

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self._http: HttpClient | None = None
        self.label = f"channels.{instance}"
        self.url_path = ""
        self._url_auth: tuple[str, str] | None = None
        self.base_url = self._split_url() if self.url_setting else self._vendor_url()

    def _vendor_url(self) -> str:
        url = settings_with_defaults(self).get("base_url") or self.default_base_url or ""
        return check_base_url(str(url), self.label)

    def _split_url(self) -> str:
        assert self.url_setting is not None
        url = str(self.config.get(self.url_setting) or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("not an http(s) URL", field=f"{self.label}.{self.url_setting}")
        if parts.username is not None:  # credentials in the URL: sent as basic auth
            self._url_auth = (unquote(parts.username), unquote(parts.password or ""))
        netloc = parts.netloc.rpartition("@")[2]
        path = parts.path or "/"
        self.url_path = f"{path}?{parts.query}" if parts.query else path
        return check_base_url(f"{parts.scheme}://{netloc}", self.label)

    # -- what a subclass may override -----------------------------------------------------------

    def http_headers(self) -> dict[str, str]:
        """Headers sent with every request."""
        if self.bearer_setting and self.config.get(self.bearer_setting):
            return {"Authorization": f"Bearer {self.config[self.bearer_setting]}"}
        return {}

    def http_auth(self) -> tuple[str, str] | None:
        if self.basic_auth_settings:
            user, password = self.basic_auth_settings
            return (str(self.config.get(user) or ""), str(self.config.get(password) or ""))
        return self._url_auth

    def http_secrets(self) -> tuple[str, ...]:
        """Values to redact besides the secret settings (e.g. the secret path of a hook URL)."""
        extra = [self._url_auth[1]] if self._url_auth else []
        headers = self.http_headers()
        extra += [v for k, v in headers.items() if _SENSITIVE_HEADER.search(k)]
        return tuple(v for v in extra if v)

    # -- the client and outcomes ----------------------------------------------------------------

    def http(self) -> HttpClient:
        """The instance's client (made on first use, reused for the run, closed by close())."""
        if self._http is None:
            self._http = plugin_http_client(
                self,
                label=self.label,
                default_base_url=self.base_url,
                auth=self.http_auth(),
                headers=self.http_headers(),
                secrets=self.http_secrets(),
                backoff_base=self.backoff_base,
                sleep=self.sleep,
                auth_hint=self.auth_hint,
                transport=self.transport,
            )
        return self._http

    def failure(self, exc: Exception) -> DeliveryResult:
        """The delivery outcome of an error of the HTTP layer (with this vendor's codes)."""
        return delivery_failure(
            exc, permanent_codes=self.permanent_codes, stop_codes=self.stop_codes
        )

    def post(self, path: str, **kwargs: Any) -> httpx.Response | DeliveryResult:
        """POST once through the HTTP layer: the 2xx response, or the outcome of a failure.

        ``kwargs`` go to :meth:`HttpClient.request` (``json``, ``content``, ``data``,
        ``headers``, ``idempotent``).
        """
        try:
            return self.http().request("POST", path, **kwargs)
        except Exception as exc:
            return self.failure(exc)

    def accepted_json(self, response: httpx.Response) -> Any:
        """The JSON of an accepted answer, or ``unknown`` when it cannot be read.

        The request was accepted (2xx), so an unreadable answer is never a failure: the message
        may well be on its way (a resend could deliver it twice).
        """
        try:
            return response.json() if response.content else {}
        except ValueError:
            return DeliveryResult.unknown(
                f"HTTP {response.status_code}: accepted, but the answer is not JSON "
                f"({len(response.content)} bytes)"
            )

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None
