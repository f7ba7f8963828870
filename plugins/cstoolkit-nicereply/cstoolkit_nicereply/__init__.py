"""Nicereply survey provider for cstoolkit.

Nicereply hosts the survey page: the message carries Nicereply rating links (one per score,
built from the survey's ``rating_url``), sent through any cstoolkit channel, and the answers are
pulled back with Nicereply's API (``cst survey pull``):

* API: ``https://api.nicereply.com/v1/``, HTTP basic auth with an empty user name and the
  private API key as password, JSON (``Accept: application/json``).
* Answers: ``GET /v1/surveys/{survey_id}/ratings`` with ``period_start``, ``sort_order``,
  ``page`` and ``per_page``;
  collections come as ``{"_results": [...], "_pagination": {"links": {"next": …}}}``, each
  rating with ``id``, ``score``, ``comment``, ``ticket``, ``created_at`` (ISO 8601).

Ratings are matched to stored tickets through their ``ticket`` field (the id put in the
rating link), qualified with the ``backend`` setting; de-duplicated by rating id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from cstoolkit.errors import ConfigError
from cstoolkit.hookspecs import hookimpl
from cstoolkit.http_channel import http_channel_settings, plugin_http_client
from cstoolkit.messages import SCALES, Message, SurveyAnswer, SurveyOffer
from cstoolkit.plugin import Channel, CheckResult, Setting, SurveyProvider
from cstoolkit.surveys.policy import POLICY_SETTINGS
from cstoolkit.vendor_time import require_time

if TYPE_CHECKING:
    from cstoolkit.http import HttpClient

API = "https://api.nicereply.com"
_MAX_PAGES = 200


class NicereplyProvider(SurveyProvider):
    name: ClassVar[str] = "nicereply"
    description: ClassVar[str] = "Surveys hosted by Nicereply; answers pulled back with its API."
    settings: ClassVar[tuple[Setting, ...]] = (
        *POLICY_SETTINGS,
        Setting("api_key", required=True, secret=True, help="Nicereply private API key."),
        Setting("survey_id", "int", required=True, help="The Nicereply survey's id."),
        Setting(
            "rating_url",
            required=True,
            help="Rating link with {score}, {ticket}, {email} and {name} placeholders, copied "
            "from the survey's distribution settings.",
        ),
        Setting("backend", help="Backend instance whose ticket ids the ratings carry."),
        Setting("brand", default="Support", help="Your company or team name in messages."),
        Setting("unsubscribe_url", help="Opt-out URL (or mailto:) to include in messages."),
        Setting("templates", "path", help="Directory of template overrides."),
        *http_channel_settings(base_url=API, timeout=15.0, max_retry_wait=120.0, retries=5),
    )
    requires: ClassVar[tuple[str, ...]] = ("httpx",)
    sleep = staticmethod(time.sleep)

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        url = str(self.config.get("rating_url") or "")
        if "{score}" not in url:
            raise ConfigError(
                "rating_url needs a {score} placeholder", field=f"surveys.{instance}.rating_url"
            )
        self._http: HttpClient | None = None
        self._templates: Any = None

    @property
    def templates(self) -> Any:
        if self._templates is None:
            from cstoolkit.surveys.templates import TemplateSet

            self._templates = TemplateSet(self.config.get("templates"))
        return self._templates

    def http(self) -> HttpClient:
        """The one HTTP layer's client (reads only: retried; the API key is redacted)."""
        if self._http is None:
            key = str(self.config["api_key"])
            self._http = plugin_http_client(
                self,
                label=f"surveys.{self.instance}",
                default_base_url=API,
                auth=("", key),
                sleep=self.sleep,
                auth_hint="the private API key",
            )
        return self._http

    def rating_link(self, offer: SurveyOffer, score: int | None) -> str:
        values = {
            "score": "" if score is None else str(score),
            "ticket": quote(offer.ticket_external_id, safe=""),
            "email": quote(offer.recipient.email or "", safe=""),
            "name": quote(offer.recipient.name, safe=""),
        }
        return str(self.config["rating_url"]).format(**values)

    def compose(self, offer: SurveyOffer, channel: Channel) -> Message:
        from cstoolkit.surveys import templates

        low, high = SCALES[offer.kind]
        brand = str(self.config.get("brand") or "Support")
        scores = [{"value": n, "url": self.rating_link(offer, n)} for n in range(low, high + 1)]
        survey_link = self.rating_link(offer, None)
        optout = str(self.config.get("unsubscribe_url") or "")
        low_label, high_label = templates.scale_labels(offer.language, offer.kind)
        rendered = self.templates.render(
            offer.kind,
            offer.language,
            {
                "brand": brand,
                "name": offer.recipient.first_name,
                "full_name": offer.recipient.name,
                "language": offer.language,
                "kind": offer.kind,
                "survey": offer.survey,
                "ticket_id": offer.ticket_external_id,
                "ticket_subject": offer.subject,
                "agent": offer.agent_name,
                "question": templates.question(offer.language, offer.kind, brand),
                "low": low_label,
                "high": high_label,
                "scores": scores,
                "survey_url": survey_link,
                "opt_out_url": optout,
                "expires": offer.expires_at.strftime("%Y-%m-%d"),
            },
        )
        links = {"survey": survey_link, **{f"score:{s['value']}": str(s["url"]) for s in scores}}
        if optout:
            links["opt_out_mailto" if optout.startswith("mailto:") else "opt_out"] = optout
        return Message(
            idempotency_key=offer.key,
            recipient=offer.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            short=rendered.short,
            language=offer.language,
            links=links,
            data={
                "type": "survey",
                "provider": "nicereply",
                "survey": offer.survey,
                "kind": offer.kind,
                "ticket_id": offer.ticket_id,
                "ticket_external_id": offer.ticket_external_id,
                "brand": brand,
            },
            last_inbound_at=offer.last_inbound_at,
            created_at=offer.offered_at,
        )

    def _ticket_id(self, value: Any) -> str:
        text = str(value or "")
        backend = self.config.get("backend")
        if backend and text and not text.startswith(f"{backend}:"):
            return f"{backend}:{text}"
        return text

    def pull_responses(self, since: datetime | None) -> Iterator[SurveyAnswer]:
        params: dict[str, Any] | None = {"sort_order": "asc", "per_page": 100}
        if since is not None and params is not None:
            params["period_start"] = since.isoformat().replace("+00:00", "Z")
        path: str | None = f"v1/surveys/{self.config['survey_id']}/ratings"
        for _ in range(_MAX_PAGES):
            if path is None:
                return
            data = self.http().get_json(path, params=params)
            params = None  # the next link carries them
            for item in data.get("_results") or []:
                if item.get("score") is None or not item.get("ticket"):
                    continue
                created = str(item.get("created_at") or "")
                yield SurveyAnswer(
                    survey=self.instance,
                    ticket_id=self._ticket_id(item["ticket"]),
                    score=int(item["score"]),
                    answered_at=require_time(created),
                    comment=str(item.get("comment") or ""),
                    source="nicereply",
                    external_id=f"nicereply:{item['id']}",
                )
            path = ((data.get("_pagination") or {}).get("links") or {}).get("next")

    def check(self) -> CheckResult:
        try:
            data = self.http().get_json(f"v1/surveys/{self.config['survey_id']}")
        except Exception as exc:
            return CheckResult(False, str(exc))
        survey = data.get("_results", data) if isinstance(data, dict) else {}
        return CheckResult(True, f"survey {survey.get('name', self.config['survey_id'])}")

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


@hookimpl
def register_survey_providers(register: Any) -> None:
    register(NicereplyProvider)
