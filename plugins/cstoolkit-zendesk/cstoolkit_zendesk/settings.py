"""What a Zendesk instance is configured with: :class:`ZendeskSettings` (the account, the
credentials, export paging and pacing, events) and the account limits per plan they choose from.
"""

from __future__ import annotations

from cstoolkit.backends import HttpAuth, HttpBackendSettings, http_setting, setting

#: Account-wide limits per minute by plan (Zendesk's published figures).
PLAN_LIMITS: dict[str, int] = {
    "team": 200,
    "growth": 400,
    "professional": 400,
    "enterprise": 700,
    "enterprise_plus": 2500,
    "high_volume": 2500,
}


class ZendeskSettings(HttpBackendSettings):
    subdomain: str | None = setting(help="Account name: acme for https://acme.zendesk.com.")
    email: str | None = setting(help="Agent email for API-token authentication.")
    token: str | None = setting(
        secret=True, help="API token (with email): Basic {email}/token:{token}."
    )
    oauth_token: str | None = setting(
        secret=True, help="OAuth access token (instead of email+token)."
    )
    page_size: int = setting(1000, minimum=1, maximum=1000, help="Items per export page (1-1000).")
    plan: str = setting(
        "team",
        choices=tuple(PLAN_LIMITS),
        help="Zendesk plan; sets the account limit unless requests_per_minute is given.",
    )
    high_volume: bool = setting(
        False,
        help="The High Volume API add-on: incremental exports may use 30 requests/minute.",
    )
    export_requests_per_minute: float | None = setting(
        help="Budget of the incremental export endpoints (default 10, 30 with high_volume)."
    )
    events: bool = setting(True, help="Pull ticket events (comments, changes).")
    events_overlap: int = setting(
        60,
        minimum=0,
        help="Seconds of the event export re-read on the next run (repeats are skipped).",
    )
    resolve_authors: bool = setting(
        True,
        help="Look up unknown comment authors (users/show_many) to tell agents from requesters.",
    )
    budget_share: float = http_setting("budget_share", 0.8)


def zendesk_auth(email: str | None, token: str | None, oauth_token: str | None) -> HttpAuth:
    """Zendesk's two ways in, for the ticket backend and the Help Center source alike: an
    OAuth bearer token, or ``{email}/token`` with an API token (basic auth)."""
    secrets = [token, oauth_token]
    if oauth_token:
        return HttpAuth(
            headers={"Authorization": f"Bearer {oauth_token}"},
            secrets=secrets,
            hint="the oauth_token setting",
        )
    return HttpAuth(
        auth=(f"{email}/token", str(token)), secrets=secrets, hint="the email and token settings"
    )
