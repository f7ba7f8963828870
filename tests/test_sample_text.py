"""The sample's realistic first messages (``SampleSpec.realistic_text``)."""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from cstoolkit.sample import SampleSpec, generate
from cstoolkit.synthetic.text import rewrite, typos

END = datetime(2026, 3, 1, tzinfo=UTC)
N = 1500


def _tickets(spec: SampleSpec) -> list[dict[str, Any]]:
    buf = io.StringIO()
    generate(spec, buf)
    return [json.loads(x) for x in buf.getvalue().splitlines() if x.startswith('{"type":"ticket"')]


def test_realistic_text_changes_text_and_adds_only_the_corrections() -> None:
    """Everything but the first message, and one group_change per corrected ticket, is what the
    plain output has: the simulation draws from its own stream as before."""
    spec = SampleSpec(tickets=N, days=30, seed=4, end=END)
    plain = _tickets(spec)
    real = _tickets(SampleSpec(tickets=N, days=30, seed=4, end=END, realistic_text=True))
    assert len(plain) == len(real) == N
    corrected = changed = 0
    for a, b in zip(plain, real, strict=True):
        changed += a["description"] != b["description"]
        kinds_a = [e["kind"] for e in a["events"]]
        kinds_b = [e["kind"] for e in b["events"]]
        if kinds_b != kinds_a:
            pairs = zip([*kinds_a, ""], kinds_b, strict=True)
            i = next(i for i, (x, y) in enumerate(pairs) if x != y)
            fix = b["events"][i]
            assert fix["kind"] == "group_change" and fix["role"] == "agent"
            assert fix["old"] != fix["new"] and kinds_b[:i] + kinds_b[i + 1 :] == kinds_a
            corrected += 1
        assert b["status"] == a["status"] and b["created_at"] == a["created_at"]
    assert changed > N * 0.5
    assert 0.02 * N < corrected < 0.08 * N  # about 5% of the groups were corrected by people
    # the realistic output is deterministic too
    assert real == _tickets(SampleSpec(tickets=N, days=30, seed=4, end=END, realistic_text=True))


def test_rewrite_kinds() -> None:
    rng = random.Random(7)
    kinds: Counter[str] = Counter()
    for _ in range(3000):
        msg = rewrite(rng, "es", "billing", "Cobro duplicado", "Me habéis cobrado dos veces.")
        if msg.routed is not None:
            kinds["corrected"] += 1
            assert msg.routed != msg.group
        if msg.group != "billing":
            kinds["other group"] += 1
        if " Also," in msg.description or "E outra coisa" in msg.description:
            kinds["mixed"] += 1
        if msg.subject in ("Ayuda", "Urgente", "Consulta", "Problema"):
            kinds["vague"] += 1
    assert 100 < kinds["corrected"] < 250
    assert 50 < kinds["vague"] < 350 and kinds["mixed"] > 5


def test_typos_change_some_long_words_only() -> None:
    rng = random.Random(3)
    text = "facturación reembolso pedido cuenta a b c " * 50
    out = typos(rng, text, rate=0.5)
    assert out != text
    assert [w for w in out.split(" ") if len(w) < 5] == [w for w in text.split(" ") if len(w) < 5]
