"""Survey message templates (es, en, pt) and response-page strings.

A message has four parts: ``subject``, ``text`` and ``html`` (email) and ``short`` (SMS, chat,
WhatsApp). Each part is a Jinja2 template rendered in a *sandboxed* environment (user templates
cannot reach Python internals); HTML parts are autoescaped.

Users override any part by putting files in the directory named by the survey's ``templates``
setting: ``{kind}.{part}.{lang}.j2`` (for one survey kind) or ``{part}.{lang}.j2`` (all kinds),
e.g. ``csat.subject.es.j2`` or ``html.pt.j2``. A language with no built-in templates (``fr``)
works as soon as the directory has its ``text`` part. The variables are documented in
docs/surveys.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from cstoolkit.errors import ConfigError

PARTS = ("subject", "text", "html", "short")
LANGUAGES = ("en", "es", "pt")

QUESTIONS: dict[str, dict[str, str]] = {
    "en": {
        "csat": "How would you rate the support you received?",
        "nps": "How likely are you to recommend {brand} to a friend or colleague?",
        "ces": "{brand} made it easy for me to handle my request.",
    },
    "es": {
        "csat": "¿Cómo valorarías la atención que recibiste?",
        "nps": "¿Qué probabilidad hay de que recomiendes {brand} a un amigo o colega?",
        "ces": "{brand} me facilitó resolver mi solicitud.",
    },
    "pt": {
        "csat": "Como você avalia o atendimento que recebeu?",
        "nps": "Qual a probabilidade de você recomendar {brand} a um amigo ou colega?",
        "ces": "A {brand} facilitou a resolução da minha solicitação.",
    },
}

SCALE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "csat": ("Very dissatisfied", "Very satisfied"),
        "nps": ("Not at all likely", "Extremely likely"),
        "ces": ("Strongly disagree", "Strongly agree"),
    },
    "es": {
        "csat": ("Muy insatisfecho", "Muy satisfecho"),
        "nps": ("Nada probable", "Muy probable"),
        "ces": ("Totalmente en desacuerdo", "Totalmente de acuerdo"),
    },
    "pt": {
        "csat": ("Muito insatisfeito", "Muito satisfeito"),
        "nps": ("Nada provável", "Extremamente provável"),
        "ces": ("Discordo totalmente", "Concordo totalmente"),
    },
}

_SCORE_LINES = (
    "{% for s in scores %}{{ s.value }}{% if loop.first %} ({{ low }}){% elif loop.last %}"
    " ({{ high }}){% endif %}: {{ s.url }}\n{% endfor %}"
)

_HTML = """\
<!doctype html>
<html lang="{{ language }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif; \
color:#1f2328; margin:0; padding:16px;">
<p>{{ greeting }}</p>
<p>{{ intro }}</p>
<p style="font-size:18px; font-weight:600;">{{ question }}</p>
<table role="presentation" cellspacing="0" cellpadding="0"><tr>
{% for s in scores %}<td style="padding:2px;"><a href="{{ s.url }}" style="display:inline-block; \
min-width:32px; padding:10px 6px; text-align:center; border:1px solid #8c959f; border-radius:6px; \
color:#1f2328; text-decoration:none; font-weight:600;">{{ s.value }}</a></td>
{% endfor %}</tr></table>
<p style="font-size:13px; color:#57606a;">{{ scores[0].value }} = {{ low }} · \
{{ scores[-1].value }} = {{ high }}</p>
<p>{{ after }}</p>
<p>{{ signoff }}<br>{{ brand }}</p>
<p style="font-size:12px; color:#57606a;">{{ optout_text }} \
<a href="{{ opt_out_url }}" style="color:#57606a;">{{ optout_link }}</a></p>
</body></html>
"""

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hi {name},",
        "greeting_anon": "Hello,",
        "intro": "Your request “{subject}” (#{ticket}) was solved.",
        "after": "One click is enough; you can add a comment on the page. "
        "The link works until {expires}.",
        "signoff": "Thank you,",
        "optout_text": "Don't want these surveys?",
        "optout_link": "Unsubscribe",
        "subject": "How did we do with “{subject}”?",
        "short": "{brand}: {question} Answer here: {url} (no more surveys: {optout})",
    },
    "es": {
        "greeting": "Hola, {name}:",
        "greeting_anon": "Hola:",
        "intro": "Tu solicitud «{subject}» (n.º {ticket}) está resuelta.",
        "after": "Basta con un clic; en la página puedes añadir un comentario. "
        "El enlace funciona hasta el {expires}.",
        "signoff": "Gracias,",
        "optout_text": "¿No quieres recibir estas encuestas?",
        "optout_link": "Darse de baja",
        "subject": "¿Qué tal lo hicimos con «{subject}»?",
        "short": "{brand}: {question} Responde aquí: {url} (no recibir más encuestas: {optout})",
    },
    "pt": {
        "greeting": "Olá, {name},",
        "greeting_anon": "Olá,",
        "intro": "Sua solicitação “{subject}” (nº {ticket}) foi resolvida.",
        "after": "Basta um clique; na página você pode deixar um comentário. "
        "O link funciona até {expires}.",
        "signoff": "Obrigado,",
        "optout_text": "Não quer receber estas pesquisas?",
        "optout_link": "Cancelar inscrição",
        "subject": "Como foi o nosso atendimento em “{subject}”?",
        "short": "{brand}: {question} Responda aqui: {url} (não receber mais pesquisas: {optout})",
    },
}


def _builtin(lang: str, part: str) -> str:
    if part == "subject":
        return "{{ subject_line }}"
    if part == "short":
        return "{{ short_line }}"
    if part == "html":
        return _HTML
    return (
        "{{ greeting }}\n\n{{ intro }} {{ question }}\n\n" + _SCORE_LINES + "\n{{ after }}\n\n"
        "{{ signoff }}\n{{ brand }}\n\n{{ optout_text }} {{ opt_out_url }}\n"
    )


# -- response page strings ---------------------------------------------------------------------

PAGE: dict[str, dict[str, str]] = {
    "en": {
        "title": "Your opinion",
        "comment": "Anything you would like to add? (optional)",
        "submit": "Send my answer",
        "choose": "Choose a score, then send.",
        "thanks_title": "Thank you!",
        "thanks_body": "Your answer has been recorded.",
        "already": "We already have your answer ({score}). Thank you!",
        "invalid_title": "This link is not valid",
        "invalid_body": "The link may be incomplete or altered. "
        "Please open the link exactly as it appears in the message you received.",
        "expired_title": "This link has expired",
        "expired_body": "Surveys can be answered for a limited time. Thank you anyway!",
        "optout_title": "Stop receiving surveys",
        "optout_body": "Press the button and we will not send you satisfaction surveys again.",
        "optout_button": "Unsubscribe",
        "optout_done": "Done: you will not receive surveys from us again.",
        "bad_score": "Please choose one of the scores.",
    },
    "es": {
        "title": "Tu opinión",
        "comment": "¿Quieres añadir algo? (opcional)",
        "submit": "Enviar mi respuesta",
        "choose": "Elige una puntuación y envía.",
        "thanks_title": "¡Gracias!",
        "thanks_body": "Hemos registrado tu respuesta.",
        "already": "Ya tenemos tu respuesta ({score}). ¡Gracias!",
        "invalid_title": "Este enlace no es válido",
        "invalid_body": "Puede que el enlace esté incompleto o alterado. "
        "Ábrelo tal como aparece en el mensaje que recibiste.",
        "expired_title": "Este enlace ha caducado",
        "expired_body": "Las encuestas se pueden responder durante un tiempo limitado. "
        "¡Gracias de todos modos!",
        "optout_title": "Dejar de recibir encuestas",
        "optout_body": "Pulsa el botón y no volveremos a enviarte encuestas de satisfacción.",
        "optout_button": "Darme de baja",
        "optout_done": "Hecho: no volverás a recibir encuestas nuestras.",
        "bad_score": "Elige una de las puntuaciones.",
    },
    "pt": {
        "title": "Sua opinião",
        "comment": "Quer acrescentar algo? (opcional)",
        "submit": "Enviar minha resposta",
        "choose": "Escolha uma nota e envie.",
        "thanks_title": "Obrigado!",
        "thanks_body": "Sua resposta foi registrada.",
        "already": "Já temos a sua resposta ({score}). Obrigado!",
        "invalid_title": "Este link não é válido",
        "invalid_body": "O link pode estar incompleto ou alterado. "
        "Abra-o exatamente como aparece na mensagem que você recebeu.",
        "expired_title": "Este link expirou",
        "expired_body": "As pesquisas podem ser respondidas por tempo limitado. "
        "Obrigado mesmo assim!",
        "optout_title": "Parar de receber pesquisas",
        "optout_body": "Pressione o botão e não enviaremos mais pesquisas de satisfação.",
        "optout_button": "Cancelar inscrição",
        "optout_done": "Pronto: você não receberá mais pesquisas nossas.",
        "bad_score": "Escolha uma das notas.",
    },
}


def page_words(language: str | None) -> dict[str, str]:
    return PAGE.get(language or "en", PAGE["en"])


def question(language: str, kind: str, brand: str) -> str:
    table = QUESTIONS.get(language, QUESTIONS["en"])
    return table[kind].format(brand=brand)


def scale_labels(language: str, kind: str) -> tuple[str, str]:
    return SCALE_LABELS.get(language, SCALE_LABELS["en"])[kind]


# -- rendering ---------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def environment(autoescape: bool) -> Any:
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )


@dataclass
class Rendered:
    subject: str
    text: str
    html: str
    short: str


class TemplateSet:
    """Built-in templates plus a user directory of overrides."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory) if directory else None
        if self.directory is not None and not self.directory.is_dir():
            raise ConfigError(f"templates directory not found: {self.directory}")
        self._cache: dict[tuple[str, str, str], Any] = {}

    def _user_file(self, kind: str, part: str, lang: str) -> Path | None:
        if self.directory is None:
            return None
        for name in (f"{kind}.{part}.{lang}.j2", f"{part}.{lang}.j2"):
            path = self.directory / name
            if path.is_file():
                return path
        return None

    def has_language(self, lang: str, kind: str) -> bool:
        return lang in LANGUAGES or self._user_file(kind, "text", lang) is not None

    def pick_language(self, candidates: list[str | None], kind: str, default: str) -> str:
        for lang in [*candidates, default, "en"]:
            if lang and self.has_language(lang, kind):
                return lang
        return "en"

    def _template(self, kind: str, part: str, lang: str) -> Any:
        cache_key = (kind, part, lang)
        if cache_key in self._cache:
            return self._cache[cache_key]
        from jinja2 import TemplateSyntaxError

        env = environment(part == "html")
        path = self._user_file(kind, part, lang)
        source = path.read_text("utf-8") if path else _builtin(lang, part)
        try:
            tmpl = env.from_string(source)
        except TemplateSyntaxError as exc:
            raise ConfigError(
                f"template error: {exc.message}", path=str(path) if path else None, line=exc.lineno
            ) from None
        self._cache[cache_key] = (tmpl, path)
        return self._cache[cache_key]

    def render(self, kind: str, lang: str, context: dict[str, Any]) -> Rendered:
        from jinja2 import TemplateError

        words = _WORDS.get(lang, _WORDS["en"])
        ctx = dict(context)
        name = ctx.get("name") or ""
        ctx.setdefault(
            "greeting",
            words["greeting"].format(name=name) if name else words["greeting_anon"],
        )
        fill = {
            "subject": ctx.get("ticket_subject", ""),
            "ticket": ctx.get("ticket_id", ""),
            "expires": ctx.get("expires", ""),
            "brand": ctx.get("brand", ""),
            "question": ctx.get("question", ""),
            "url": ctx.get("survey_url", ""),
            "optout": ctx.get("opt_out_url", ""),
        }
        for key in ("intro", "after", "signoff", "optout_text", "optout_link"):
            ctx.setdefault(key, words[key].format(**fill))
        ctx.setdefault("subject_line", words["subject"].format(**fill))
        ctx.setdefault("short_line", words["short"].format(**fill))
        out: dict[str, str] = {}
        for part in PARTS:
            tmpl, path = self._template(kind, part, lang)
            try:
                out[part] = tmpl.render(**ctx)
            except TemplateError as exc:
                where = str(path) if path else f"built-in {part}.{lang}"
                raise ConfigError(f"template error in {where}: {exc}") from None
        subject = " ".join(out["subject"].split())
        return Rendered(subject, out["text"], out["html"], out["short"].strip())
