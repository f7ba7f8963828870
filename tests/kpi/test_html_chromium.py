"""The HTML report in a real browser: headless Chromium loads it with no console errors and no
network request, and its screenshot shows the charts."""

from __future__ import annotations

import os
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
