"""Inline SVG charts drawn in Python: no script, no CDN, readable offline and in print."""
from __future__ import annotations

from html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
COLORS = {"block": "#c0392b", "flag": "#e6a23c", "allow": "#5b9a68", "line": "#2f6fb0", "bar": "#8fb3d9"}


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(label)}" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px;font-family:{FONT}">'
            + "".join(body) + "</svg>")


def hbar(items: list[tuple[str, float]], label: str, fmt: str = "{:.0f}", color: str = COLORS["bar"],
         width: int = 560) -> str:
    """Horizontal bars, one per (label, value)."""
    if not items:
        return '<p class="muted">（无数据）</p>'
    row, left, right = 26, 170, 70
    top = 6
    vmax = max(v for _, v in items) or 1
    span = width - left - right
    body = []
    for i, (name, v) in enumerate(items):
        y = top + i * row
        w = max(1.0, span * v / vmax) if v else 0
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="13" fill="#333">'
                    f'{escape(name)}</text>')
        body.append(f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" fill="{color}"/>')
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 17}" font-size="12" fill="#555">{escape(fmt.format(v))}</text>')
    return _svg(width, top * 2 + row * len(items), body, label)


def stacked_hbar(rows: list[tuple[str, dict[str, float]]], keys: list[tuple[str, str, str]], label: str,
                 width: int = 560) -> str:
    """Horizontal stacked bars; ``keys`` are (key, legend name, colour)."""
    if not rows:
        return '<p class="muted">（无数据）</p>'
    row, left, right, top = 26, 110, 60, 30
    vmax = max(sum(v.get(k, 0) for k, _, _ in keys) for _, v in rows) or 1
    span = width - left - right
    body = []
    x = left
    for k, name, color in keys:
        body.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{color}"/>'
                    f'<text x="{x + 16}" y="17" font-size="12" fill="#333">{escape(name)}</text>')
        x += 24 + 14 * len(name)
    for i, (name, vals) in enumerate(rows):
        y = top + i * row
        body.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end" font-size="13" fill="#333">'
                    f'{escape(name)}</text>')
        x0 = float(left)
        for k, _, color in keys:
            w = span * vals.get(k, 0) / vmax
            if w > 0:
                body.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" fill="{color}"/>')
            x0 += w
        total = sum(vals.get(k, 0) for k, _, _ in keys)
        body.append(f'<text x="{x0 + 6:.1f}" y="{y + 17}" font-size="12" fill="#555">{total:.0f}</text>')
    return _svg(width, top + row * len(rows) + 6, body, label)


def trend(points: list[tuple[str, float, float]], label: str, width: int = 760, height: int = 260) -> str:
    """Volume per day as bars (left axis) and the flagged rate as a line (right axis, %)."""
    if not points:
        return '<p class="muted">（结果中没有 sent_at / call_time，无法画趋势）</p>'
    left, right, top, bottom = 46, 50, 30, 44
    pw, ph = width - left - right, height - top - bottom
    vmax = max(v for _, v, _ in points) or 1
    step = pw / len(points)
    bw = min(36.0, step * 0.6)
    body = [f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#999"/>',
            f'<rect x="{left}" y="6" width="12" height="12" fill="{COLORS["bar"]}"/>'
            f'<text x="{left + 16}" y="17" font-size="12" fill="#333">记录数</text>'
            f'<line x1="{left + 80}" y1="12" x2="{left + 96}" y2="12" stroke="{COLORS["line"]}" stroke-width="2.5"/>'
            f'<text x="{left + 100}" y="17" font-size="12" fill="#333">违规率（标记+拦截）</text>']
    for frac in (0, 0.5, 1):
        y = top + ph * (1 - frac)
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#777">'
                    f'{vmax * frac:.0f}</text>')
        body.append(f'<text x="{left + pw + 6}" y="{y + 4:.1f}" font-size="11" fill="#777">{frac * 100:.0f}%</text>')
        if frac:
            body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
    pts = []
    every = max(1, len(points) // 12)
    for i, (day, v, rate) in enumerate(points):
        cx = left + step * (i + 0.5)
        h = ph * v / vmax
        body.append(f'<rect x="{cx - bw / 2:.1f}" y="{top + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                    f'fill="{COLORS["bar"]}"><title>{escape(day)}: {v:.0f} 条，违规率 {rate:.1%}</title></rect>')
        pts.append(f"{cx:.1f},{top + ph * (1 - rate):.1f}")
        if i % every == 0:
            body.append(f'<text x="{cx:.1f}" y="{top + ph + 16}" text-anchor="middle" font-size="11" fill="#555">'
                        f'{escape(day[5:] if len(day) == 10 else day)}</text>')
    body.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{COLORS["line"]}" stroke-width="2.5"/>')
    body += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="3" fill="{COLORS["line"]}"/>' for p in pts]
    return _svg(width, height, body, label)
