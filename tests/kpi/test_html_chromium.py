"""The HTML report in a real browser: headless Chromium loads it with no console errors and no
network request, and its screenshot shows the charts."""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from cstoolkit.config import Config
from cstoolkit.kpi.html import PALETTE, render_html
from cstoolkit.kpi.report import KpiOptions, build_report
from tests import chromium
from tests.kpi.helpers import PERIOD, L, build_main, config_data

pytestmark = pytest.mark.server

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module", autouse=True)
def _chromium() -> None:
    chromium.require()


def _browse(page: Path, tmp: Path, shot: Path | None = None) -> str:
    """Load ``page``; return Chromium's log lines about the page (console, network)."""
    args = [chromium.require(), *FLAGS, f"--user-data-dir={tmp / 'profile'}"]
    if shot is not None:
        args += [f"--screenshot={shot}", "--window-size=1400,3000"]
    else:
        args += ["--dump-dom"]
    proc = subprocess.run(
        [*args, page.as_uri()], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return "\n".join(
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "net::ERR" in line or "Failed to load" in line
    )


def _decode_png(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the set of distinct RGB colours of an 8-bit PNG (no dependency)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, []
    w = h = depth = ctype = interlace = 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    assert depth == 8 and interlace == 0 and ctype in (2, 6)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    colours: set[bytes] = set()
    i = 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        if f == 1:
            for x in range(bpp, stride):
                line[x] = (line[x] + line[x - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev, strict=True))
        elif f == 3:
            for x in range(stride):
                left = line[x - bpp] if x >= bpp else 0
                line[x] = (line[x] + ((left + prev[x]) >> 1)) & 255
        elif f == 4:
            for x in range(stride):
                a = line[x - bpp] if x >= bpp else 0
                b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        colours.update(bytes(line[x : x + 3]) for x in range(0, stride, bpp))
        prev = line
    return w, h, colours


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    store = build_main(tmp / "h.db")
    policy = {
        "calendar": "madrid",
        "business_hours": True,
        "first_reply": {"normal": "2h"},
        "resolution": {"normal": "2d"},
    }
    cfg = Config(path=None, data=config_data(sla={"std": policy}, staffing={"aht": "6m"}))
    report = build_report(
        store,
        cfg,
        KpiOptions(
            since=PERIOD[0],
            until=PERIOD[1],
            compare="previous",
            now=L("2026-04-10 12:00"),
            vendor_metrics=True,
        ),
    )
    store.close()
    out = tmp / "report.html"
    text = render_html(report)
    assert "Vendor check: ours vs Zendesk ticket metrics" in text  # that panel is loaded too
    out.write_text(text, "utf-8")
    return out


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The check below means something: a page with a script error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><body><script>console.error('kpi-boom');</script>"
        "<img src='https://example.invalid/x.png'></body></html>"
    )
    log = _browse(bad, tmp_path)
    assert "kpi-boom" in log


def test_page_loads_without_console_errors_or_requests(page: Path, tmp_path: Path) -> None:
    assert _browse(page, tmp_path) == ""


def test_screenshot_shows_the_charts(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "kpi.png"
    assert _browse(page, tmp_path, shot) == ""
    data = shot.read_bytes()
    w, h, colours = _decode_png(data)
    assert (w, h) == (1400, 3000)
    assert len(data) > 100_000
    assert len(colours) > 300  # text, gradients, bars, lines and the heatmap's shades
    for hex_colour in PALETTE[:3]:  # the chart colours are drawn (bars, lines)
        assert bytes.fromhex(hex_colour[1:]) in colours
    keep = os.environ.get("CSTOOLKIT_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


# -- the quickstart's report: every section filled, labels that keep their size -----------------

#: Run in the browser after the report's own markup (the report has no script of its own): it
#: measures what Chromium laid out and writes the findings as JSON into the DOM it dumps.
_PROBE = """<script>
(() => {
  const out = {panels: [], problems: [], label_px: [], svg_text: 0,
               overflow: document.documentElement.scrollWidth - window.innerWidth};
  document.querySelectorAll('.empty, .card.none').forEach(e =>
    out.problems.push('empty: ' + (e.closest('section, .card').innerText || '').slice(0, 80)));
  document.querySelectorAll('section.panel').forEach(s => {
    const title = (s.querySelector('h2') || {}).innerText || '';
    const chart = s.querySelector('figure.chart, .hbars, .heat, table');
    const r = chart ? chart.getBoundingClientRect() : {width: 0, height: 0};
    out.panels.push(title);
    if (!title) out.problems.push('a panel without a title');
    if (!s.querySelector('p.sub')) out.problems.push(title + ': no unit line');
    if (!chart || r.width < 150 || r.height < 30)
      out.problems.push(title + ': nothing drawn (' + r.width + 'x' + r.height + ')');
    if (!s.querySelector('table') && !s.querySelector('p.reading'))
      out.problems.push(title + ': no reading');
  });
  document.querySelectorAll('.ylab, .xlab, .hbars .lab, .heat .d, .axis-unit').forEach(e =>
    out.label_px.push(getComputedStyle(e).fontSize));
  out.label_px = [...new Set(out.label_px)].sort();
  out.svg_text = document.querySelectorAll('svg text').length;
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""


@pytest.fixture(scope="module")
def quickstart_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of a quickstart workspace (its config, its sample data), as quickstart
    writes it, with the probe appended."""
    from datetime import UTC, datetime

    from cstoolkit.config import load_config
    from cstoolkit.host import Host
    from cstoolkit.instances import build_instance
    from cstoolkit.quickstart import config_text
    from cstoolkit.sample import SampleSpec, generate_file
    from cstoolkit.store import open_store
    from cstoolkit.sync import pull

    tmp = tmp_path_factory.mktemp("qs-html")
    end = datetime(2026, 3, 2, tzinfo=UTC)
    (tmp / "cstoolkit.toml").write_text(config_text())
    generate_file(SampleSpec(tickets=900, end=end, survey_answers=True), tmp / "helpdesk.jsonl")
    config = load_config(tmp / "cstoolkit.toml")
    host = Host().load()
    store = open_store(config.store_path)
    try:
        pull(store, build_instance(config, host, "backends", "demo", store))
        report = build_report(store, config, KpiOptions(compare="previous", now=end), host)
    finally:
        store.close()
    page = tmp / "report.html"
    page.write_text(render_html(report).replace("</body>", _PROBE + "</body>"), "utf-8")
    return page


def _probe(page: Path, tmp: Path, width: int) -> dict:
    import json

    args = [
        chromium.require(),
        *FLAGS,
        f"--user-data-dir={tmp / 'profile'}",
        f"--window-size={width},2000",
    ]
    proc = subprocess.run(
        [*args, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stdout[-2000:]
    return json.loads(html.unescape(m.group(1)))


@pytest.mark.parametrize("width", [1280, 390])
def test_the_quickstart_report_has_no_empty_section(
    quickstart_page: Path, tmp_path: Path, width: int
) -> None:
    found = _probe(quickstart_page, tmp_path, width)
    assert found["problems"] == []
    assert {"CSAT and NPS trend", "SLA compliance", "Staffing", "Volume trend"} <= set(
        found["panels"]
    )
    assert found["overflow"] <= 0, f"the page is wider than a {width} px screen"
    assert found["svg_text"] == 0  # every label is HTML text: it keeps its size
    assert found["label_px"] == ["11px", "12px"]  # the same at 1280 and 390 px wide


def test_staffing_is_in_whole_agents_in_the_reports_zone(quickstart_page: Path) -> None:
    text = quickstart_page.read_text()
    section = text[text.index("<h2>Staffing</h2>") :].split("</section>", 1)[0]
    assert "whole agents" in section and "local time (Europe/Madrid)" in section
    cells = re.findall(r"<b [^>]*>([^<]*)</b>", section)
    assert len(cells) == 7 * 24 and all(c.isdigit() for c in cells)
