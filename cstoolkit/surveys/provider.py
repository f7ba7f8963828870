"""The built-in survey provider: messages with signed one-click links to ``cst survey serve``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, ClassVar

from cstoolkit import secrets
from cstoolkit.errors import ConfigError
from cstoolkit.hookspecs import hookimpl
from cstoolkit.messages import SCALES, Message, SurveyOffer
from cstoolkit.plugin import Channel, Setting, SurveyProvider
from cstoolkit.surveys.policy import POLICY_SETTINGS

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8765"


class BuiltinSurveyProvider(SurveyProvider):
    name: ClassVar[str] = "builtin"
    description: ClassVar[str] = (
        "CSAT, NPS and CES with signed one-click links answered on `cst survey serve`."
    )
    settings: ClassVar[tuple[Setting, ...]] = (
        *POLICY_SETTINGS,
        Setting(
            "public_url",
            default=DEFAULT_PUBLIC_URL,
            help="Base URL of `cst survey serve` as people reach it (used in links).",
        ),
        Setting(
            "signing_keys",
            "table",
            required=True,
            secret=True,
            help='Key id -> secret reference, e.g. {k1 = "env:CST_SURVEY_KEY"}.',
        ),
        Setting("current_key", help="Key id that signs new links (required with several keys)."),
        Setting("link_ttl", default="28d", help="How long answer links stay valid."),
        Setting("templates", "path", help="Directory of template overrides."),
        Setting("brand", default="Support", help="Your company or team name in messages."),
        Setting("unsubscribe_mailto", help="Also offer a mailto: address in List-Unsubscribe."),
    )

    def __init__(self, instance: str, config: Mapping[str, Any], state: Any) -> None:
        super().__init__(instance, config, state)
        self.public_url = str(self.config.get("public_url") or DEFAULT_PUBLIC_URL).rstrip("/")
        self.brand = str(self.config.get("brand") or "Support")

    @cached_property
    def signer(self) -> Any:
        from cstoolkit.surveys.links import Signer

        field = f"surveys.{self.instance}.signing_keys"
        raw = self.config.get("signing_keys") or {}
        if not isinstance(raw, dict) or not raw:
            raise ConfigError("at least one signing key is required", field=field)
        keys = {
            str(kid): secrets.resolve(str(ref), field=f"{field}.{kid}") for kid, ref in raw.items()
        }
        return Signer(keys, self.config.get("current_key"), field=field)

    @cached_property
    def templates(self) -> Any:
        from cstoolkit.surveys.templates import TemplateSet

        return TemplateSet(self.config.get("templates"))

    def compose(self, offer: SurveyOffer, channel: Channel) -> Message:
        from cstoolkit.surveys import links, templates

        kid = offer.data.get("kid") or self.signer.current
        offer.data["kid"] = kid
        token = self.signer.sign(offer.key, offer.expires_at, kid)
        low, high = SCALES[offer.kind]
        survey_link = links.survey_url(self.public_url, token)
        optout_link = links.optout_url(self.public_url, token)
        scores = [
            {"value": n, "url": links.survey_url(self.public_url, token, n)}
            for n in range(low, high + 1)
        ]
        lang = offer.language
        low_label, high_label = templates.scale_labels(lang, offer.kind)
        context = {
            "brand": self.brand,
            "name": offer.recipient.first_name,
            "full_name": offer.recipient.name,
            "language": lang,
            "kind": offer.kind,
            "survey": offer.survey,
            "ticket_id": offer.ticket_external_id,
            "ticket_subject": offer.subject,
            "agent": offer.agent_name,
            "question": templates.question(lang, offer.kind, self.brand),
            "low": low_label,
            "high": high_label,
            "scores": scores,
            "survey_url": survey_link,
            "opt_out_url": optout_link,
            "expires": offer.expires_at.strftime("%Y-%m-%d"),
        }
        rendered = self.templates.render(offer.kind, lang, context)
        extra_links = {}
        mailto = self.config.get("unsubscribe_mailto")
        if mailto:
            extra_links["opt_out_mailto"] = f"mailto:{str(mailto).removeprefix('mailto:')}"
        return Message(
            idempotency_key=offer.key,
            recipient=offer.recipient,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            short=rendered.short,
            language=lang,
            links={
                "survey": survey_link,
                "opt_out": optout_link,
                **{f"score:{s['value']}": str(s["url"]) for s in scores},
                **extra_links,
            },
            data={
                "type": "survey",
                "brand": self.brand,
                "survey": offer.survey,
                "kind": offer.kind,
                "scale": [low, high],
                "ticket_id": offer.ticket_id,
                "ticket_external_id": offer.ticket_external_id,
                "cycle": offer.cycle,
                "expires_at": offer.expires_at.isoformat().replace("+00:00", "Z"),
            },
            last_inbound_at=offer.last_inbound_at,
            created_at=offer.offered_at,
        )


@hookimpl
def register_survey_providers(register: Any) -> None:
    register(BuiltinSurveyProvider)
