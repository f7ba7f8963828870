"""The answer/opt-out pages (handled without a socket) and the CSV import."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cstoolkit import model
from cstoolkit.model import EventKind, now
from cstoolkit.store import surveys as db
from cstoolkit.surveys.links import Signer
from cstoolkit.surveys.send import send_surveys
from cstoolkit.surveys.server import SurveyApp

from .helpers import KEY, make_workspace, simple_desk


@pytest.fixture()
def sent(tmp_path: Path) -> Any:
    simple_desk(tmp_path / "helpdesk.jsonl", 3, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    yield ws, config, host, store
    store.close()


def _token(store: Any, key: str, **kw: Any) -> str:
    offer = db.get_offer(store, key)
    assert offer is not None
    return Signer({"k1": KEY}).sign(key, kw.get("expires", offer.expires_at))


def _h1(body: bytes) -> str:
    return re.search(r"<h1>(.*?)</h1>", body.decode()).group(1)  # type: ignore[union-attr]


def test_get_preselects_and_records_nothing_post_records_once(sent: Any) -> None:
    _ws, config, host, store = sent
    app = SurveyApp(config, host, store)
    token = _token(store, "csat/demo:1")  # demo:1 is in English (LANGS[1])
    page = app.handle("GET", f"/s/{token}?score=4")
    assert page.status == 200 and b'value="4"\n aria-label="4" checked' in page.body
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert not db.answers(store)
    done = app.handle("POST", f"/s/{token}", b"score=2&comment=Too+slow%21")
    assert done.status == 200 and _h1(done.body) == "Thank you!"
    again = app.handle("POST", f"/s/{token}", b"score=5")
    assert b"We already have your answer (2)" in again.body
    (answer,) = db.answers(store)
    assert (answer.score, answer.comment, answer.source) == (2, "Too slow!", "web")
    events = [e for e in store.events("demo:1") if e.kind == EventKind.SURVEY_ANSWERED]
    assert len(events) == 1
    assert events[0].data == {"survey": "csat", "kind": "csat", "score": 2, "comment": "Too slow!"}


def test_bad_scores_tampered_and_expired_links(sent: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _ws, config, host, store = sent
    app = SurveyApp(config, host, store)
    token = _token(store, "csat/demo:2")  # Portuguese
    bad = app.handle("POST", f"/s/{token}", b"score=9")
    assert bad.status == 400 and "Escolha uma das notas" in bad.body.decode()
    kid, payload, mac = token.split(".")
    tampered = app.handle("GET", f"/s/{kid}.{payload}.{mac[:-3]}xyz", accept_language="es-ES")
    assert tampered.status == 400 and _h1(tampered.body) == "Este enlace no es válido"
    other = _token(store, "csat/demo:3").split(".")[1]
    swapped = app.handle("POST", f"/s/{kid}.{other}.{mac}", b"score=5")
    assert swapped.status == 400
    expired = _token(store, "csat/demo:2", expires=now() - timedelta(seconds=1))
    gone = app.handle("GET", f"/s/{expired}")
    assert gone.status == 410 and _h1(gone.body) == "Este link expirou"
    monkeypatch.setattr(model, "now", lambda: now() + timedelta(days=60))
    late = app.handle("POST", f"/s/{token}", b"score=5")
    assert late.status == 410
    assert not db.answers(store)
    assert app.handle("GET", "/nothing/here").status == 404
    assert app.handle("GET", "/healthz").body == b"ok\n"


def test_opt_out_needs_a_post_and_is_never_surveyed_again(sent: Any) -> None:
    _ws, config, host, store = sent
    app = SurveyApp(config, host, store)
    token = _token(store, "csat/demo:3")
    confirm = app.handle("GET", f"/u/{token}")
    assert confirm.status == 200 and b'<form method="post"' in confirm.body
    assert not db.is_opted_out(store, "demo:c3", None, None)
    # RFC 8058 one-click: the mail client POSTs List-Unsubscribe=One-Click.
    done = app.handle("POST", f"/prefix/u/{token}", b"List-Unsubscribe=One-Click")
    assert done.status == 200
    assert db.is_opted_out(store, "demo:c3", None, None)
    assert db.is_opted_out(store, None, "c3@customer.example", None)


def test_the_http_server_serves_the_pages(sent: Any) -> None:
    import threading
    import urllib.request

    from cstoolkit.surveys.server import make_server

    ws, config, host, store = sent
    server = make_server(config, host, ws.store_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        token = _token(store, "csat/demo:1")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/s/{token}?score=5") as resp:
            assert resp.status == 200 and b"checked" in resp.read()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/s/{token}", data=b"score=5", method="POST"
        )
        with urllib.request.urlopen(req) as resp:
            assert b"Thank you!" in resp.read()
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
    assert [a.score for a in db.answers(store)] == [5]


# -- CSV import --------------------------------------------------------------------------------


def test_csv_import_checks_every_row_and_imports_once(sent: Any, tmp_path: Path) -> None:
    ws, _config, _host, store = sent
    bad = tmp_path / "bad.csv"
    bad.write_text(
        'ticket,score,comment\ndemo:1,5,great\ndemo:2,6,too high\ndemo:404,3,"multi\nline"\n3,x,\n'
    )
    result = ws.cst("survey", "import", str(bad), "--survey", "csat")
    assert result.returncode == 2
    assert f"{bad}:3: score: 6 is outside 1-5 for csat" in result.stderr
    assert f"{bad}:5: ticket: 'demo:404' not found in the store" in result.stderr
    assert f"{bad}:6: score: 'x' is not a whole number" in result.stderr
    assert "nothing imported" in result.stderr
    good = tmp_path / "good.csv"
    good.write_text(
        "survey,ticket,score,comment,answered_at\n"
        "csat,demo:1,5,great,2026-01-05T10:00:00Z\n"
        "csat,3,2,,\n"
        "phone-nps,demo:2,9,called,\n"
    )
    missing_kind = ws.cst("survey", "import", str(good))
    assert missing_kind.returncode == 2 and "give its kind" in missing_kind.stderr
    good.write_text(
        good.read_text()
        .replace(
            "survey,ticket,score,comment,answered_at",
            "survey,ticket,score,comment,answered_at,kind",
        )
        .replace("great,2026-01-05T10:00:00Z", "great,2026-01-05T10:00:00Z,")
        .replace("csat,3,2,,", "csat,3,2,,,")
        .replace("called,", "called,,nps")
    )
    ok = ws.cst("survey", "import", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "3 imported" in ok.stderr
    again = ws.cst("survey", "import", str(good))
    assert again.returncode == 0 and "0 imported, 3 already there" in again.stderr
    rows = {(a.survey, a.ticket_id): a for a in db.answers(store)}
    assert rows[("csat", "demo:1")].score == 5 and rows[("csat", "demo:3")].score == 2
    assert rows[("phone-nps", "demo:2")].kind == "nps"
    assert rows[("csat", "demo:1")].answered_at.isoformat().startswith("2026-01-05T10:00")
    listing = ws.cst("survey", "responses", "--format", "csv")
    assert listing.returncode == 0
    assert listing.stdout.splitlines()[0] == (
        "answered_at,survey,kind,score,ticket,requester,comment,source"
    )
    assert "csat: 2 answer(s), CSAT 50%" in listing.stderr
    assert "phone-nps: 1 answer(s), NPS +100" in listing.stderr
