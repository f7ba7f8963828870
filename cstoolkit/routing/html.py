"""``cst model evaluate --format html``: the evaluation as one self-contained page (no script):
macro-F1 of the model and the baselines per target, the confidence-floor chart (coverage and
accuracy at each floor) and the confusion matrix of the group, drawn with the KPI report's
charts."""

from __future__ import annotations

from typing import Any

from cstoolkit.kpi.charts import CSS, PALETTE, esc, line_chart

PAGE_CSS = """
body{font:14px/1.45 system-ui,sans-serif;color:#1f2937;max-width:980px;margin:24px auto;
  padding:0 16px}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border-bottom:1px solid #e5e7eb;
  padding:4px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
h2{font-size:16px;margin:24px 0 6px}
"""


def page(result: dict[str, Any]) -> str:
    split = result["split"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Routing model evaluation</title><style>{CSS}{PAGE_CSS}</style></head><body>",
        "<h1>Routing model: time-ordered validation</h1>",
        f"<p>Trained on {split['train']['tickets']} tickets ({esc(split['train']['from'])} .. "
        f"{esc(split['train']['to'])}), tested on the {split['test']['tickets']} newer ones "
        f"({esc(split['test']['from'])} .. {esc(split['test']['to'])}); classifier "
        f"{esc(result['classifier'])}.</p>",
        "<h2>Macro-F1 and accuracy</h2><table><tr><th>target</th><th>predictor</th>"
        "<th>macro-F1</th><th>accuracy</th><th>tickets</th></tr>",
    ]
    for target, entry in result["targets"].items():
        for who in ("model", "majority", "recipes"):
            if who in entry:
                r = entry[who]
                parts.append(
                    f"<tr><td>{esc(target)}</td><td>{who}</td><td>{r['macro_f1']:.3f}</td>"
                    f"<td>{r['accuracy']:.3f}</td><td>{r['n']}</td></tr>"
                )
    parts.append("</table>")
    for target in ("group", "priority"):
        entry = result["targets"].get(target)
        if not entry or not entry["model"]["floors"]:
            continue
        floors = entry["model"]["floors"]
        parts.append(f"<h2>{esc(target)}: coverage and accuracy at each confidence floor</h2>")
        parts.append(
            line_chart(
                [f"{f['floor']:.2f}" for f in floors],
                [
                    ("coverage", [f["coverage"] * 100 for f in floors], PALETTE[0]),
                    ("accuracy", [f["accuracy"] * 100 for f in floors], PALETTE[1]),
                ],
                unit="percent",
                unit_text="% of the test tickets (coverage) / of the routed ones (accuracy)",
                y_max=100.0,
                title=f"{target} confidence floors",
            )
        )
    group = result["targets"].get("group")
    if group:
        conf = group["model"]["confusion"]
        cols = sorted({p for row in conf.values() for p in row})
        parts.append("<h2>group: confusion (rows: truth, columns: prediction)</h2><table><tr>")
        parts.append("<th></th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>")
        for truth in sorted(conf):
            cells = "".join(f"<td>{conf[truth].get(c, 0)}</td>" for c in cols)
            parts.append(f"<tr><td>{esc(truth)}</td>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)
