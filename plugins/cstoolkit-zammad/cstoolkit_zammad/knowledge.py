"""The Zammad knowledge base as a knowledge source: ``plugin = "zammad_kb"``.

``POST /api/v1/knowledge_bases/init`` (a read: retried like a GET) answers with the knowledge
base's assets, id-keyed maps:
``KnowledgeBaseAnswer`` (``category_id``, ``published_at``, ``archived_at``, ``tags``,
``translation_ids``), ``KnowledgeBaseAnswerTranslation`` (``title``, ``kb_locale_id``,
``answer_id``, ``content_id``, ``updated_at``), ``KnowledgeBaseLocale`` (``system_locale_id``)
and ``KnowledgeBaseCategoryTranslation`` (``title``, ``kb_locale_id``, ``category_id``).
One article is one translation of a published, not archived answer; its body is read with
``GET /api/v1/knowledge_bases/{kb}/answers/{id}?full=1&include_contents=1`` (the
``KnowledgeBaseAnswerTranslationContent`` asset, HTML) only when the translation or its answer
changed since the last sync (the cursor remembers their ``updated_at``); translations no longer
there, unpublished or archived are removed. The cursor is saved with the last page. The
category's title in the same language is the section, the answer's ``tags`` the labels. The
init assets name a language only by ``system_locale_id``: ``languages`` maps those ids to
language codes (``{ "2" = "es" }``), else ``language`` is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from cstoolkit.articles import Article, ArticlePage
from cstoolkit.backends import (
    MAPPING_ERRORS,
    FieldError,
    HttpAuth,
    HttpKnowledgeSource,
    HttpSourceSettings,
    VendorDataError,
    expect_object,
    field,
    html_text,
    id_field,
    list_field,
    malformed,
    setting,
    time_field,
)
from cstoolkit.errors import CstError
from cstoolkit.plugin import CheckResult

INIT = "/api/v1/knowledge_bases/init"


class ZammadKbSettings(HttpSourceSettings):
    token: str = setting(secret=True, help="Access token (Token token=...).")
    language: str = setting("en", help="Language of translations whose locale is not mapped.")
    languages: dict[str, Any] | None = setting(
        help='system_locale_id -> language code, e.g. { "2" = "es" }.'
    )
    public_url: str | None = setting(
        help="Public help center address: an article's url is PUBLIC/help/LANG/answers/ID."
    )


class ZammadKbSource(HttpKnowledgeSource[ZammadKbSettings]):
    name: ClassVar[str] = "zammad_kb"
    description: ClassVar[str] = "The Zammad knowledge base (published answers)."

    def http_auth(self) -> HttpAuth:
        token = self.options.token
        return HttpAuth(
            headers={"Authorization": f"Token token={token}"},
            secrets=[token],
            hint="the token setting",
        )

    def check(self) -> CheckResult:
        try:
            self.http.json("POST", INIT, idempotent=True)
        except CstError as exc:
            return CheckResult(False, str(exc))
        return CheckResult(True, f"{self.api_base_url()}: {INIT} answers")

    def _assets(self, data: Any, endpoint: str, name: str) -> Mapping[str, Any]:
        value = expect_object(data, self.label, endpoint).get(name) or {}
        if not isinstance(value, Mapping):
            raise VendorDataError(self.label, endpoint, f"malformed assets, {name} is not a map")
        return value

    def _language(self, locales: Mapping[str, Any], kb_locale_id: Any) -> str:
        locale = locales.get(str(kb_locale_id))
        system = locale.get("system_locale_id") if isinstance(locale, Mapping) else None
        mapped = (self.options.languages or {}).get(str(system))
        return str(mapped) if mapped else self.options.language

    def pull(self, cursor: str | None) -> Iterator[ArticlePage]:
        before = self.seen_of(cursor)
        endpoint = f"POST {INIT}"
        data = self.http.json("POST", INIT, idempotent=True)
        answers = self._assets(data, endpoint, "KnowledgeBaseAnswer")
        translations = self._assets(data, endpoint, "KnowledgeBaseAnswerTranslation")
        locales = self._assets(data, endpoint, "KnowledgeBaseLocale")
        categories = self._assets(data, endpoint, "KnowledgeBaseCategoryTranslation")
        kb = self._assets(data, endpoint, "KnowledgeBase")
        kb_id = next(iter(kb), "1")
        sections = {
            (str(c.get("category_id")), str(c.get("kb_locale_id"))): c.get("title")
            for c in categories.values()
            if isinstance(c, Mapping)
        }
        now: dict[str, str] = {}
        changed: list[Article] = []
        for key in sorted(translations, key=lambda k: (len(str(k)), str(k))):
            tr = translations[key]
            tid = self.map_record(id_field, tr, endpoint, "answer translation")
            answer = answers.get(str(tr.get("answer_id")))
            if not isinstance(answer, Mapping):
                continue  # an answer this user cannot see
            if answer.get("archived_at") or not answer.get("published_at"):
                continue
            stamp = f"{answer.get('updated_at')}|{tr.get('updated_at')}"
            now[tid] = stamp
            if before.get(tid) == stamp:
                continue
            body = self._body(kb_id, str(tr.get("answer_id")), tr)
            section = sections.get((str(answer.get("category_id")), str(tr.get("kb_locale_id"))))
            try:
                article = self.article(tr, answer, body, section, locales)
            except MAPPING_ERRORS as exc:
                raise malformed(exc, self.label, endpoint, "answer translation", tr) from None
            changed.append(article)
            if len(changed) >= 100:
                yield ArticlePage(changed, [], None)
                changed = []
        if changed:
            yield ArticlePage(changed, [], None)
        gone = sorted(set(before) - set(now))
        yield ArticlePage([], gone, self.seen_cursor(now))

    def _body(self, kb_id: str, answer_id: str, translation: Mapping[str, Any]) -> str:
        path = f"/api/v1/knowledge_bases/{kb_id}/answers/{answer_id}"
        data = self.http.get_json(path, params={"full": 1, "include_contents": 1})
        assets = expect_object(data, self.label, f"GET {path}").get("assets")
        contents = self._assets(assets, f"GET {path}", "KnowledgeBaseAnswerTranslationContent")
        content = contents.get(str(translation.get("content_id")))
        if not isinstance(content, Mapping) or not isinstance(content.get("body"), str):
            raise VendorDataError(
                self.label,
                f"GET {path}",
                f"no content {translation.get('content_id')!r} for answer {answer_id}",
            )
        return html_text(content["body"])

    def article(
        self,
        raw: Any,
        answer: Mapping[str, Any],
        body: str,
        section: Any,
        locales: Mapping[str, Any],
    ) -> Article:
        if not isinstance(raw, Mapping):
            raise FieldError("translation", "not an object")
        external = id_field(raw)
        updated = time_field(raw, "updated_at")
        answered = time_field(answer, "updated_at", required=False)
        assert updated is not None
        language = self._language(locales, raw.get("kb_locale_id"))
        public = self.options.public_url
        answer_id = str(raw.get("answer_id"))
        return Article(
            id=f"{self.instance}:{external}",
            source=self.instance,
            external_id=external,
            title=str(field(raw, "title", str)),
            body=body,
            language=language,
            updated_at=max(updated, answered) if answered else updated,
            section=str(section) if isinstance(section, str) and section else None,
            labels=[str(t) for t in list_field(dict(answer), "tags")],
            url=f"{public.rstrip('/')}/help/{language}/answers/{answer_id}" if public else None,
        )
