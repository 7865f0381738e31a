"""A self-contained HTML report of a consistency check: one file, inline CSS and SVG, no scripts,
no external assets — it opens anywhere, offline, and can be attached to a ticket.

Per feature: its statistics, a bar of its mismatch rate against its threshold, and the served vs
recomputed distributions (a histogram for numbers, category counts otherwise). Then drift (PSI
per feature, with the training vs served shares per bin).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_html"]

_LEFT, _RIGHT = "#d9534f", "#337ab7"
_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:right}
td:first-child,th:first-child{text-align:left}.bad{color:#b00;font-weight:600}.ok{color:#070}
.feature{display:inline-block;vertical-align:top;margin:0 1.5em 1.5em 0;width:330px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}
code{background:#f4f4f4;padding:0 3px}
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _rate_bar(rate: float, threshold: float, width: int = 300) -> str:
    scale = max(rate, threshold, 0.01)
    w = width * rate / scale
    t = width * threshold / scale
    color = _LEFT if rate > threshold else "#5cb85c"
    return (
        f'<svg width="{width}" height="22" role="img" aria-label="mismatch rate {rate:.4f}">'
        f'<rect x="0" y="4" width="{width}" height="14" fill="#f0f0f0"/>'
        f'<rect x="0" y="4" width="{w:.1f}" height="14" fill="{color}"/>'
        f'<line x1="{t:.1f}" x2="{t:.1f}" y1="0" y2="22" stroke="#222" stroke-dasharray="2,2"/>'
        f"</svg>"
    )


def _bars(
    labels: Sequence[str],
    left: Sequence[float],
    right: Sequence[float],
    width: int = 320,
    height: int = 120,
) -> str:
    """Grouped bars: left (red) and right (blue) per label; labels under the first/last bars."""
    n = len(labels)
    if n == 0:
        return "<p><em>no values</em></p>"
    top = max([*left, *right, 1e-12])
    slot = width / n
    bw = max(slot / 2 - 1, 1)
    parts = [f'<svg width="{width}" height="{height + 30}" role="img">']
    for i in range(n):
        x = i * slot
        for j, (vals, color) in enumerate(((left, _LEFT), (right, _RIGHT))):
            h = height * vals[i] / top
            parts.append(
                f'<rect x="{x + j * bw:.1f}" y="{height - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                f'fill="{color}"><title>{_e(labels[i])}: {vals[i]:g}</title></rect>'
            )
    parts.append(f'<line x1="0" x2="{width}" y1="{height}" y2="{height}" stroke="#999"/>')
    step = max(1, n // 4)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{i * slot:.1f}" y="{height + 14}" font-size="10">{_e(labels[i][:14])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _distribution(chart: Mapping[str, Any]) -> str:
    kind = chart.get("kind")
    if kind == "numeric":
        edges = chart["edges"]
        labels = [f"{edges[i]:.4g}" for i in range(len(edges) - 1)]
        extra = ""
        if chart.get("left_null") or chart.get("right_null"):
            extra = f"<br><small>NULL/NaN/inf: served {chart['left_null']}, recomputed {chart['right_null']}</small>"
        return _bars(labels, chart["left"], chart["right"]) + extra
    if kind == "category":
        return _bars([str(c) for c in chart["categories"]], chart["left"], chart["right"])
    return "<p><em>no values</em></p>"


def _feature_block(f: Mapping[str, Any]) -> str:
    status = '<span class="bad">BREACH</span>' if f["breached"] else '<span class="ok">ok</span>'
    rows = "".join(
        f"<tr><td>{k}</td><td>{_e(_fmt(f.get(k)))}</td></tr>"
        for k in (
            "total",
            "mismatch",
            "mismatch_rate",
            "threshold",
            "both_null",
            "left_null",
            "right_null",
            "smape",
        )
    )
    err = f'<p class="bad">{_e(f["error"])}</p>' if f.get("error") else ""
    examples = ""
    if f.get("examples"):
        items = "".join(
            f"<li><code>{_e(e.get('entity'))}</code>{' at ' + _e(e['served_at']) if e.get('served_at') else ''}: "
            f"served <code>{_e(e.get('left'))}</code>, recomputed <code>{_e(e.get('right'))}</code></li>"
            for e in f["examples"]
        )
        examples = f"<details><summary>mismatching examples</summary><ul>{items}</ul></details>"
    return (
        f'<div class="feature"><h3>{_e(f["feature"])} {status}</h3>'
        f"<small>{_e(f.get('data_type', ''))}</small>{err}"
        f"<div>mismatch rate {_fmt(f['mismatch_rate'])} (max {_fmt(f['threshold'])})</div>"
        f"{_rate_bar(float(f['mismatch_rate']), float(f['threshold']))}"
        f"<div>served vs recomputed</div>{_distribution(f.get('chart') or {})}"
        f"<table>{rows}</table>{examples}</div>"
    )


def _drift_block(d: Mapping[str, Any], max_psi: float | None) -> str:
    psi = d.get("psi")
    bad = max_psi is not None and isinstance(psi, float) and psi > max_psi
    head = f"<h3>{_e(d['feature'])} <small>{_e(d['kind'])}</small> PSI {_e(_fmt(psi))}"
    head += ' <span class="bad">BREACH</span></h3>' if bad else "</h3>"
    if d["kind"] == "numeric":
        labels = [
            "NULL"
            if b.get("is_null")
            else f"≤{_fmt(b['high'])}"
            if b.get("high") is not None
            else f">{_fmt(b['low'])}"
            for b in d["bins"]
        ]
        chart = _bars(
            labels, [b["train_share"] for b in d["bins"]], [b["served_share"] for b in d["bins"]]
        )
    else:
        head += (
            f"<div>TVD {_fmt(d.get('tvd'))}, largest share shift {_fmt(d.get('max_shift'))}</div>"
        )
        chart = _bars(
            [str(s["value"]) for s in d["shares"]],
            [s["train_share"] for s in d["shares"]],
            [s["served_share"] for s in d["shares"]],
        )
    return (
        f'<div class="feature">{head}<div>training (red) vs served (blue) shares</div>{chart}</div>'
    )


def render_html(report: Mapping[str, Any], title: str = "skewless consistency report") -> str:
    """The HTML page of a `ConsistencyReport.to_dict()`."""
    ok = report.get("ok")
    summary = (
        '<p class="ok">OK: every feature within its threshold</p>'
        if ok
        else f'<p class="bad">BREACH: {_e(", ".join(report.get("breaches", [])))}</p>'
    )
    rows = "".join(
        f"<tr><td>{_e(f['feature'])}</td><td>{f['total']}</td><td>{f['mismatch']}</td>"
        f"<td>{_fmt(f['mismatch_rate'])}</td><td>{_fmt(f['threshold'])}</td><td>{f['both_null']}</td>"
        f"<td>{f['left_null']}</td><td>{f['right_null']}</td><td>{_fmt(f['smape'])}</td>"
        f"<td>{'<span class=bad>BREACH</span>' if f['breached'] else 'ok'}</td></tr>"
        for f in report.get("features", [])
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.get("notes", []))
    drift = report.get("drift") or []
    drift_html = ""
    if drift:
        drift_html = "<h2>Drift: training set vs served</h2>" + "".join(
            _drift_block(d, report.get("max_psi")) for d in drift
        )
    legend = (
        f'<p class="legend"><span style="background:{_LEFT}"></span>served / online / training'
        f'<span style="background:{_RIGHT}"></span>recomputed / offline / served (drift)</p>'
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1><p>mode <code>{_e(report.get('mode'))}</code>, "
        f"{report.get('rows', 0)} rows compared in {_fmt(report.get('seconds'))} s</p>{summary}"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "<table><tr><th>feature</th><th>total</th><th>mismatch</th><th>rate</th><th>max</th>"
        "<th>both null</th><th>served null</th><th>recomputed null</th><th>SMAPE</th><th></th></tr>"
        f"{rows}</table><h2>Per feature</h2>{legend}"
        + "".join(_feature_block(f) for f in report.get("features", []))
        + drift_html
        + "</body></html>\n"
    )


def write_html(
    report: Mapping[str, Any], path: str | Path, title: str = "skewless consistency report"
) -> Path:
    """Write `render_html(report)` to `path`; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report, title), encoding="utf-8")
    return p
