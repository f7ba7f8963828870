"""The Zammad knowledge base as a knowledge source: the init assets, published answers only,
bodies read only for changed translations, removed ones dropped; rate limits, server errors and
malformed bodies (respx, recorded-shape responses)."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
import respx

from cstoolkit.knowledge.sync import sync_source
from cstoolkit.store import knowledge as store_kb
from cstoolkit.store import open_store
from cstoolkit.store.kv import MemoryKeyValue

BASE = "https://zammad.example.com"
INIT = f"{BASE}/api/v1/knowledge_bases/init"
PUBLISHED = "2026-11-02T10:00:00.000Z"


def answer(n: int, *, published: str | None = PUBLISHED, archived: str | None = None,
           updated: str = "2026-11-02T10:00:01.000Z") -> dict[str, Any]:  # fmt: skip
    return {
        "id": n, "category_id": 1, "promoted": False, "internal_note": None, "position": n,
        "archived_at": archived, "archived_by_id": None, "internal_at": None,
        "internal_by_id": None, "published_at": published, "published_by_id": 3,
        "created_at": "2026-10-01T09:00:00.000Z", "updated_at": updated,
        "translation_ids": [n], "attachments": [], "tags": ["password"],
    }  # fmt: skip


def translation(n: int, *, locale: int = 1, title: str | None = None,
                updated: str = "2026-11-02T10:00:02.000Z") -> dict[str, Any]:  # fmt: skip
    return {
        "id": n, "title": title or f"Reset your password {n}", "kb_locale_id": locale,
        "answer_id": n, "content_id": 100 + n, "created_by_id": 3, "updated_by_id": 3,
        "created_at": "2026-10-01T09:00:00.000Z", "updated_at": updated,
    }  # fmt: skip


def init(answers: list[dict[str, Any]], translations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "KnowledgeBase": {"1": {"id": 1, "active": True, "kb_locale_ids": [1, 2]}},
        "KnowledgeBaseLocale": {
            "1": {"id": 1, "knowledge_base_id": 1, "system_locale_id": 1, "primary": True},
            "2": {"id": 2, "knowledge_base_id": 1, "system_locale_id": 7, "primary": False},
        },
        "KnowledgeBaseCategory": {"1": {"id": 1, "knowledge_base_id": 1, "answer_ids": [1]}},
        "KnowledgeBaseCategoryTranslation": {
            "1": {"id": 1, "title": "Login", "kb_locale_id": 1, "category_id": 1},
            "2": {"id": 2, "title": "Acceso", "kb_locale_id": 2, "category_id": 1},
        },
        "KnowledgeBaseAnswer": {str(a["id"]): a for a in answers},
        "KnowledgeBaseAnswerTranslation": {str(t["id"]): t for t in translations},
        "User": {},
    }


def content(n: int) -> httpx.Response:
    return httpx.Response(200, json={"id": n, "assets": {
        "KnowledgeBaseAnswer": {str(n): answer(n)},
        "KnowledgeBaseAnswerTranslationContent": {
            str(100 + n): {"id": 100 + n, "body": f"<p>Ask for a new <b>reset link</b> {n}.</p>",
                           "attachments": []},
        },
    }})  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.now = 0.0

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s

    def clock(self) -> float:
        return self.now


def source(**overrides: Any) -> Any:
    from cstoolkit_zammad import ZammadKbSource

    config: dict[str, Any] = {s.name: s.default for s in ZammadKbSource.settings}
    config.update(base_url=BASE, token="zm-secret-token", languages={"7": "es"},
                  public_url="https://help.example.com")  # fmt: skip
    config.update(overrides)
    src = ZammadKbSource("zkb", config, MemoryKeyValue("zkb"))
    clock = Clock()
    src.http.sleep, src.http.clock = clock.sleep, clock.clock
    src.test_clock = clock
    return src


@respx.mock
def test_published_answers_changed_only_and_removed_ones(tmp_path: Any) -> None:
    answers = [answer(1), answer(2, published=None), answer(3, archived=PUBLISHED), answer(4)]
    translations = [translation(1), translation(2), translation(3), translation(4, locale=2)]
    first_init = init(answers, translations)
    second = copy.deepcopy(first_init)
    second["KnowledgeBaseAnswerTranslation"]["4"]["title"] = "Restablecer la contraseña"
    second["KnowledgeBaseAnswerTranslation"]["4"]["updated_at"] = "2026-11-05T00:00:00.000Z"
    third = copy.deepcopy(second)
    del third["KnowledgeBaseAnswer"]["1"]
    route = respx.post(INIT).mock(
        side_effect=[httpx.Response(200, json=b) for b in (first_init, second, third)]
    )
    bodies = {n: respx.get(f"{BASE}/api/v1/knowledge_bases/1/answers/{n}").mock(
        side_effect=[content(n), content(n)]) for n in (1, 4)}  # fmt: skip
    store = open_store(tmp_path / "s.db")
    first = sync_source(store, "zkb", source())
    assert (first.articles, first.total) == (2, 2)  # the draft and the archived one are not
    one = store_kb.article(store, "zkb:1")
    assert one is not None and one.language == "en" and one.section == "Login"
    assert one.body == "Ask for a new reset link 1." and one.labels == ["password"]
    assert one.url == "https://help.example.com/help/en/answers/1"
    four = store_kb.article(store, "zkb:4")
    assert four is not None and four.language == "es" and four.section == "Acceso"
    assert route.calls[0].request.headers["Authorization"] == "Token token=zm-secret-token"
    params = bodies[1].calls[0].request.url.params
    assert (params["full"], params["include_contents"]) == ("1", "1")
    again = sync_source(store, "zkb", source())
    assert (again.articles, again.deleted) == (1, 0)  # only translation 4 changed
    assert bodies[1].call_count == 1 and bodies[4].call_count == 2
    last = sync_source(store, "zkb", source())
    assert (last.articles, last.deleted, last.total) == (0, 1, 1)  # answer 1 no longer there
    store.close()


@respx.mock
def test_rate_limits_and_server_errors_are_retried() -> None:
    respx.post(INIT).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "5"}),
            httpx.Response(503),
            httpx.Response(200, json=init([answer(1)], [translation(1)])),
        ]
    )
    respx.get(f"{BASE}/api/v1/knowledge_bases/1/answers/1").mock(
        side_effect=[httpx.Response(429), content(1)]
    )
    src = source(budget_share=1.0)
    pages = list(src.pull(None))
    assert [a.external_id for p in pages for a in p.articles] == ["1"]
    assert src.stats.rate_limited == 2 and src.stats.retries == 3
    assert 5.0 in src.test_clock.sleeps


@pytest.mark.parametrize(
    ("init_body", "body", "message"),
    [
        (b'{"KnowledgeBaseAnswer": {', None, "malformed"),
        (b"[]", None, "expected a JSON object"),
        (b'{"KnowledgeBaseAnswer": [1, 2]}', None, "KnowledgeBaseAnswer is not a map"),
        (None, b'{"id": 1, "assets": {}}', "no content 101"),
        (None, b'{"id": 1}', "expected a JSON object"),
    ],
)
@respx.mock
def test_malformed_bodies_are_one_clear_error(
    init_body: bytes | None, body: bytes | None, message: str
) -> None:
    good = httpx.Response(200, json=init([answer(1)], [translation(1)]))
    respx.post(INIT).mock(
        return_value=httpx.Response(200, content=init_body) if init_body else good
    )
    respx.get(f"{BASE}/api/v1/knowledge_bases/1/answers/1").mock(
        return_value=httpx.Response(200, content=body or b"{}")
    )
    with pytest.raises(Exception) as err:
        list(source().pull(None))
    text = str(err.value)
    assert message in text and "zammad_kb knowledge source 'zkb'" in text
    assert "zm-secret-token" not in text


@respx.mock
def test_a_translation_with_a_bad_time_names_the_record() -> None:
    respx.post(INIT).mock(
        return_value=httpx.Response(
            200, json=init([answer(1)], [translation(1, updated="yesterday")])
        )
    )
    respx.get(f"{BASE}/api/v1/knowledge_bases/1/answers/1").mock(return_value=content(1))
    with pytest.raises(Exception, match="updated_at"):
        list(source().pull(None))
