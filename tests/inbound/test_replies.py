"""Replies go back out over WhatsApp: inside the 24-hour window as text, outside it as the
configured template or, without one, a "window closed" tag and note on the ticket; an
acknowledgement with the ticket number. The Graph API is a fake on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from cstoolkit.inbound.engine import Receiver
from cstoolkit.inbound.replies import SENT, WINDOW_CLOSED, deliver_replies
from cstoolkit.inbound_source import InboundMessage
from cstoolkit.instances import build_instance
from cstoolkit.plugin import Changes, Comment
from cstoolkit.store.ledger import counts
from cstoolkit.sync import pull

from .helpers import load, tickets, workspace

WA_TOKEN = "wa-access-token-1234"


class Graph:
    """A fake of the Graph API's POST /{version}/{phone_number_id}/messages."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                outer.requests.append({"path": self.path, "auth": self.headers.get(
                    "Authorization"), "body": body})  # fmt: skip
                data = json.dumps({"messaging_product": "whatsapp", "messages": [
                    {"id": f"wamid.OUT{len(outer.requests)}"}]}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def graph() -> Iterator[Graph]:
    g = Graph()
    yield g
    g.close()


def setup(root: Path, graph: Graph, extra: str = "", channel: str = "") -> tuple[Any, Any, Any]:
    path = workspace(root, f"""
[inbound.wa2]
plugin = "whatsapp"
backend = "desk"
app_secret = "env:CST_TEST_APP_SECRET"
verify_token = "env:CST_TEST_VERIFY_TOKEN"
reply_channel = "wa_out"
{extra}

[channels.wa_out]
plugin = "whatsapp"
phone_number_id = "106540352242922"
access_token = "env:CST_TEST_WA_TOKEN"
base_url = "{graph.url}"
{channel}
""")  # fmt: skip
    return load(path)


def message(mid: str, hours_ago: float = 0.0) -> InboundMessage:
    from datetime import UTC, datetime, timedelta

    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    return InboundMessage(mid, "whatsapp", "+34600111222", "my order?", at)


def agent_replies(config: Any, host: Any, store: Any, text: str) -> None:
    """An agent answers in the helpdesk; the next sync brings the reply into the store."""
    backend = build_instance(config, host, "backends", "desk", store)
    backend.apply("1", Changes(comments=[Comment(text, public=True)]))
    backend.apply("1", Changes(comments=[Comment("internal only", public=False)]))
    pull(store, backend, lock=False)


def test_reply_inside_the_window_goes_out_as_text_once(tmp_path: Path, graph: Graph) -> None:
    config, host, store = setup(tmp_path, graph)
    Receiver(config, host, store, "wa2").receive(message("wamid.R1"))
    agent_replies(config, host, store, "It ships today.")
    out = deliver_replies(config, host, store, "wa2")
    assert [d.action for d in out] == [SENT]
    assert len(graph.requests) == 1
    sent = graph.requests[0]
    assert sent["path"] == "/v21.0/106540352242922/messages"
    assert sent["auth"] == f"Bearer {WA_TOKEN}"
    assert sent["body"]["to"] == "34600111222" and sent["body"]["type"] == "text"
    assert sent["body"]["text"]["body"] == "It ships today."
    assert deliver_replies(config, host, store, "wa2") == []  # never twice
    assert len(graph.requests) == 1


def test_reply_outside_the_window_without_template_marks_the_ticket(
    tmp_path: Path, graph: Graph
) -> None:
    config, host, store = setup(tmp_path, graph)
    Receiver(config, host, store, "wa2").receive(message("wamid.R2", hours_ago=30))
    agent_replies(config, host, store, "Sorry for the wait.")
    out = deliver_replies(config, host, store, "wa2")
    assert [d.action for d in out] == [WINDOW_CLOSED]
    assert graph.requests == []
    ticket = tickets(tmp_path)["1"]
    assert "whatsapp-window-closed" in ticket["tags"]
    note = ticket["events"][-1]
    assert note["public"] is False and "24-hour customer-service window closed" in note["body"]
    assert deliver_replies(config, host, store, "wa2") == []
    assert counts(store, "inbound_reply") == {"done": 1}


def test_reply_outside_the_window_uses_the_approved_template(tmp_path: Path, graph: Graph) -> None:
    config, host, store = setup(tmp_path, graph, channel='template = "ticket_update"\n'
                                'template_parameters = ["ticket"]')  # fmt: skip
    Receiver(config, host, store, "wa2").receive(message("wamid.R3", hours_ago=30))
    agent_replies(config, host, store, "Sorry for the wait.")
    assert [d.action for d in deliver_replies(config, host, store, "wa2")] == [SENT]
    body = graph.requests[0]["body"]
    assert body["type"] == "template" and body["template"]["name"] == "ticket_update"
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": "1"}]


def test_acknowledgement_with_the_ticket_number(tmp_path: Path, graph: Graph) -> None:
    from cstoolkit.inbound.replies import acknowledger

    config, host, store = setup(tmp_path, graph, extra="acknowledge = true")
    r = Receiver(config, host, store, "wa2")
    r.on_created = acknowledger(config, host, store, r.settings)
    r.receive(message("wamid.A1"))
    r.receive(message("wamid.A2"))  # a follow-up on the same ticket: no second acknowledgement
    deadline = time.monotonic() + 5
    while not graph.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [q["body"]["text"]["body"] for q in graph.requests] == [
        "We received your message. Your ticket number is 1."
    ]


class TwilioApi:
    """A fake of Twilio's Messages resource; ``refuse`` answers WhatsApp's window error."""

    def __init__(self, refuse: bool = False) -> None:
        from urllib.parse import parse_qs

        self.requests: list[dict[str, list[str]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                outer.requests.append(parse_qs(self.rfile.read(length).decode()))
                if refuse:
                    status, data = 400, {"code": 63016, "status": 400, "message": "Failed to "
                                         "send freeform message because you are outside the "
                                         "allowed window."}  # fmt: skip
                else:
                    status, data = 201, {"sid": "SM" + "f" * 32, "status": "queued"}
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("refuse", [False, True], ids=["sent", "window-closed"])
def test_twilio_whatsapp_reply_goes_to_the_whatsapp_address(tmp_path: Path, refuse: bool) -> None:
    from .helpers import ACCOUNT

    api = TwilioApi(refuse)
    try:
        path = workspace(tmp_path, f"""reply_channel = "tw_out"

[channels.tw_out]
plugin = "twilio_sms"
account_sid = "{ACCOUNT}"
auth_token = "env:CST_TEST_AUTH_TOKEN"
from_number = "whatsapp:+14155238886"
base_url = "{api.url}"
retries = 0
""")  # fmt: skip
        from .helpers import load as load_workspace

        config, host, store = load_workspace(path)
        msg = InboundMessage("SM" + "1" * 32, "whatsapp", "+34600555666", "hola",
                             message("x").received_at)  # fmt: skip
        Receiver(config, host, store, "tw").receive(msg)
        agent_replies(config, host, store, "On its way.")
        out = deliver_replies(config, host, store, "tw")
        sent = api.requests[0]
        assert sent["To"] == ["whatsapp:+34600555666"]
        assert sent["From"] == ["whatsapp:+14155238886"] and sent["Body"] == ["On its way."]
        if not refuse:
            assert [d.action for d in out] == [SENT]
        else:
            assert [d.action for d in out] == ["refused"] and "63016" in out[0].detail
            ticket = tickets(tmp_path)["1"]
            assert "whatsapp-window-closed" in ticket["tags"]
            assert "63016" in ticket["events"][-1]["body"]
        assert deliver_replies(config, host, store, "tw") == [] and len(api.requests) == 1
    finally:
        api.close()


def test_the_knowledge_bases_first_answer_goes_back_out_over_whatsapp_once(
    tmp_path: Path, graph: Graph
) -> None:
    """WhatsApp in, the knowledge base's first answer on the new ticket, and that answer
    delivered to the customer over WhatsApp by ``cst inbound replies``, once."""
    from cstoolkit.inbound.first_answer import ANSWERED, for_source
    from cstoolkit.knowledge import sample
    from cstoolkit.knowledge.sync import sync_source

    sample.write(tmp_path / "kb")
    config, host, store = setup(
        tmp_path,
        graph,
        'answer_from_kb = true\n\n[knowledge.help]\nplugin = "markdown"\npath = "kb"',
    )
    sync_source(store, "help", build_instance(config, host, "knowledge", "help", store))
    receiver = Receiver(config, host, store, "wa2")
    first = for_source(config, host, store, receiver.settings)
    assert first is not None
    receiver.on_created = first
    es = "Hola, no me llega el enlace para restablecer la contraseña. ¿Qué hago?"
    receiver.receive(InboundMessage("wamid.KB1", "whatsapp", "+34600111222", es, _now()))
    (answer,) = first.flush()
    assert answer.action == ANSWERED, answer
    out = deliver_replies(config, host, store, "wa2")
    assert [d.action for d in out] == [SENT]
    (sent,) = graph.requests
    assert sent["body"]["to"] == "34600111222" and sent["body"]["type"] == "text"
    assert sent["body"]["text"]["body"].startswith("Hola")
    assert deliver_replies(config, host, store, "wa2") == []  # never twice
    assert len(graph.requests) == 1


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
