"""The answer page under hostile clients: a real server on 127.0.0.1 and a raw socket client.

Malformed, huge, chunked, slow and replayed requests, tampered and expired tokens, oversized
headers and more connections than allowed; then generated requests (hypothesis). In every case
nothing is recorded without a valid signed token, an answer is recorded at most once, and the
server keeps serving.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstoolkit.model import now
from cstoolkit.store import surveys as db
from cstoolkit.surveys.links import Signer
from cstoolkit.surveys.send import send_surveys
from cstoolkit.surveys.server import MAX_BODY, Limits, SurveyApp, make_server

from .helpers import KEY, make_workspace, simple_desk

#: Short deadlines so the slow-client tests end quickly; the sizes are the documented defaults.
TEST_LIMITS = Limits(request_timeout=1, idle_timeout=2, max_connections=4)


class Served:
    def __init__(self, server: Any, store: Any) -> None:
        self.server, self.store = server, store
        self.port = server.server_address[1]

    def token(self, key: str = "csat/demo:1", **kw: Any) -> str:
        offer = db.get_offer(self.store, key)
        assert offer is not None
        return Signer({"k1": KEY}).sign(key, kw.get("expires", offer.expires_at))

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def exchange(self, data: bytes, *, half_close: bool = False) -> bytes:
        """Send ``data`` and read until the server closes (or 10 s pass)."""
        with self.connect() as sock:
            try:
                sock.sendall(data)
                if half_close:
                    sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # the server may refuse and close before everything is sent
            return read_all(sock)

    def answers(self) -> list[Any]:
        return list(db.answers(self.store))


def read_all(sock: socket.socket, limit: float = 10.0) -> bytes:
    chunks, end = [], time.monotonic() + limit
    sock.settimeout(0.5)
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1."), response[:200]
    return int(response.split(b" ", 2)[1])


def post(path: str, body: bytes, *headers: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: survey.test", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    simple_desk(tmp_path / "helpdesk.jsonl", 3, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    server = make_server(config, host, ws.store_path, port=0, limits=TEST_LIMITS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(server, store)
    finally:
        server.shutdown()
        server.server_close()
        store.close()


# -- lengths and bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "lengths",
    [
        ["-1"],
        ["abc"],
        ["1e3"],
        ["+7"],
        ["0x7"],
        ["7 7"],
        ["7", "7"],
        ["7", "9"],
        ["300000000"],
        ["99999999999999999999999999"],
        [str(MAX_BODY + 1)],
    ],
    ids="|".join,
)
def test_a_bad_content_length_is_refused_and_records_nothing(
    served: Served, lengths: list[str]
) -> None:
    token = served.token()
    request = post(f"/s/{token}", b"score=5", *[f"Content-Length: {n}" for n in lengths])
    answer = served.exchange(request, half_close=True)
    assert status(answer) in (400, 413)
    assert served.answers() == []


def test_a_declared_length_over_the_limit_is_refused_before_the_body(served: Served) -> None:
    with served.connect() as sock:
        sock.sendall(post(f"/s/{served.token()}", b"", "Content-Length: 300000000"))
        # no body sent at all: the answer comes from the headers alone
        assert status(read_all(sock)) == 413
    assert served.answers() == []


def test_a_missing_content_length_reads_no_body(served: Served) -> None:
    answer = served.exchange(post(f"/s/{served.token()}", b"score=5"), half_close=True)
    assert status(answer) == 400  # no score: the bytes after the head are not a body
    assert served.answers() == []


def test_a_small_chunked_body_is_read(served: Served) -> None:
    body = b"7\r\nscore=4\r\n0\r\n\r\n"
    answer = served.exchange(post(f"/s/{served.token()}", body, "Transfer-Encoding: chunked"))
    assert status(answer) == 200 and b"Thank you!" in answer
    assert [a.score for a in served.answers()] == [4]


def test_a_huge_chunked_body_is_refused(served: Served) -> None:
    chunk = b"score=4&comment=" + b"x" * 4000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    answer = served.exchange(post(f"/s/{served.token()}", body, "Transfer-Encoding: chunked"))
    assert status(answer) == 413
    assert served.answers() == []


def test_oversized_headers_are_refused(served: Served) -> None:
    big = "X-Padding: " + "a" * (TEST_LIMITS.max_header_bytes + 10)
    answer = served.exchange(post(f"/s/{served.token()}", b"score=5", "Content-Length: 7", big))
    assert status(answer) == 431
    assert served.answers() == []


# -- tokens and replays ------------------------------------------------------------------------


def test_a_replayed_post_records_the_answer_once(served: Served) -> None:
    token = served.token()
    request = post(f"/s/{token}", b"score=2", "Content-Length: 7")
    first = served.exchange(request)
    assert status(first) == 200 and b"Thank you!" in first
    for body in (b"score=2", b"score=5"):
        again = served.exchange(post(f"/s/{token}", body, "Content-Length: 7"))
        assert status(again) == 200 and b"We already have your answer (2)" in again
    # pipelined on one connection, too
    keep = request.replace(b"Connection: close", b"Connection: keep-alive")
    served.exchange(keep * 3 + request)
    assert [a.score for a in served.answers()] == [2]


def test_tampered_and_expired_tokens_record_nothing(served: Served) -> None:
    kid, payload, mac = served.token().split(".")
    other = served.token("csat/demo:2").split(".")[1]
    expired = served.token(expires=now() - timedelta(seconds=1))
    cases = {
        f"{kid}.{payload}.{mac[:-2]}xy": 400,
        f"{kid}.{other}.{mac}": 400,
        f"k9.{payload}.{mac}": 400,
        "not-a-token": 400,
        expired: 410,
    }
    for token, expected in cases.items():
        for route in ("s", "u"):
            answer = served.exchange(post(f"/{route}/{token}", b"score=5", "Content-Length: 7"))
            assert status(answer) == expected, (token, route)
    assert served.answers() == []
    assert not db.list_optouts(served.store)


def test_the_body_is_read_only_after_the_token_is_verified(tmp_path: Path) -> None:
    simple_desk(tmp_path / "helpdesk.jsonl", 1, now())
    ws = make_workspace(tmp_path)
    config, host, store = ws.load()
    send_surveys(config, host, store)
    app = SurveyApp(config, host, store)
    token = Signer({"k1": KEY}).sign("csat/demo:0", now() + timedelta(days=1))
    kid, payload, mac = token.split(".")
    reads: list[str] = []

    def body() -> bytes:
        reads.append("read")
        return b"score=5"

    assert app.handle("POST", f"/s/{kid}.{payload}.{mac[:-2]}zz", body).status == 400
    assert app.handle("POST", "/s/garbage", body).status == 400
    assert reads == [] and not db.answers(store)
    store.close()


# -- slow and many clients ---------------------------------------------------------------------


def _closed_within(sock: socket.socket, trickle: bytes | None, limit: float) -> bool:
    """Trickle ``trickle`` a byte at a time (or stay silent); True once the server closes."""
    sock.settimeout(0.2)
    end, sent = time.monotonic() + limit, 0
    while time.monotonic() < end:
        if trickle is not None:
            try:
                sock.send(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
            except OSError:
                return True
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            return True
        if data == b"" or data.startswith(b"HTTP/1.1 408"):
            return True
    return False


def test_slow_headers_are_cut_at_the_request_deadline(served: Served) -> None:
    """A client that keeps sending header bytes is never idle; the whole-request deadline
    still closes it (the limit here only bounds the test: the deadline is 1 s)."""
    with served.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert _closed_within(sock, b"X-Slow: aaaa\r\n", limit=20)


def test_a_slow_body_and_a_silent_client_are_cut(served: Served) -> None:
    with served.connect() as slow, served.connect() as silent:
        slow.sendall(post(f"/s/{served.token()}", b"", "Content-Length: 9000"))
        assert _closed_within(slow, b"x", limit=20)
        assert _closed_within(silent, None, limit=20)
    assert served.answers() == []


def test_connections_beyond_the_limit_wait_and_are_then_served(served: Served) -> None:
    limit = TEST_LIMITS.max_connections
    hogs = [served.connect() for _ in range(limit)]
    for sock in hogs:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # never finished
    time.sleep(0.3)
    extra = [served.connect() for _ in range(6)]
    for sock in extra:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    time.sleep(0.3)
    assert served.server.open_connections() <= limit
    for sock in hogs:
        sock.close()
    for sock in extra:
        with sock:
            answer = read_all(sock)
            assert status(answer) == 200 and answer.endswith(b"ok\n")


# -- generated requests ------------------------------------------------------------------------

_LENGTHS = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=MAX_BODY * 4).map(str),
    st.sampled_from(["", " ", "abc", "1e3", "+7", "-0", "7,7", "0x10", "٣", "7\x00"]),
)
_BODIES = st.one_of(
    st.sampled_from([b"score=3", b"score=99", b"score=3&comment=%1B%5B31mhi", b""]),
    st.binary(max_size=256),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    method = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "POST", "PO ST", ""]))
    which = draw(st.sampled_from(["valid", "tampered", "garbage", "other-valid"]))
    route = draw(st.sampled_from(["s", "u"]))
    lengths = draw(st.lists(_LENGTHS, max_size=3))
    chunked = draw(st.booleans())
    extra = draw(
        st.lists(
            st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=40),
            max_size=3,
        )
    )
    body = draw(_BODIES)
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/9", ""]))
    head = [f"{method} /{route}/{{{which}}} {version}", "Host: x", "Connection: close"]
    head += [f"Content-Length: {n}" for n in lengths if n is not None]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    head += [f"X-Fuzz: {x}" for x in extra]
    raw = "\r\n".join(head).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body
    return which, raw


@given(requests())
def test_generated_requests_record_only_with_a_valid_token(
    served: Served, request_: tuple[str, bytes]
) -> None:
    which, raw = request_
    kid, payload, mac = served.token().split(".")
    tokens = {
        "valid": served.token(),
        "other-valid": served.token("csat/demo:2"),
        "tampered": f"{kid}.{payload}.{mac[:-2]}qq",
        "garbage": "x" * 30,
    }
    for name, token in tokens.items():
        raw = raw.replace(f"{{{name}}}".encode(), token.encode())
    before = {a.offer_key for a in served.answers()}
    response = served.exchange(raw, half_close=True)
    if response:
        assert response.startswith(b"HTTP/1.")
    after = [a.offer_key for a in served.answers()]
    allowed = {"valid": {"csat/demo:1"}, "other-valid": {"csat/demo:2"}}.get(which, set())
    assert set(after) - before <= allowed  # only the offer whose valid token was sent
    assert len(after) == len(set(after))  # never twice
    health = served.exchange(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status(health) == 200
