"""The report page: one HTML file, inline CSS, JS and SVG, in Chinese; nothing is fetched."""
from __future__ import annotations

import datetime as dt
from html import escape

from . import charts
from .aggregate import QueueItem, Report, mask_pii

DECISION_ZH = {"block": "拦截", "flag": "标记", "allow": "通过", "escalate": "升级"}
SPEAKER_ZH = {"agent": "坐席", "customer": "客户"}

_CSS = """
*{box-sizing:border-box}body{margin:0;background:#f4f6f9;color:#1f2933;
font-family:'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif;font-size:14px}
header{background:#1f3a5f;color:#fff;padding:20px 32px}header h1{margin:0 0 6px;font-size:24px}
header p{margin:2px 0;opacity:.85;font-size:13px}main{padding:20px 32px;max-width:1400px}
section{background:#fff;border-radius:8px;padding:16px 20px;margin:0 0 18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;margin:0 0 12px;border-left:4px solid #2f6fb0;padding-left:8px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(128px,1fr));gap:12px}
.card{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card b{display:block;font-size:24px;margin-top:4px}.card span{color:#667;font-size:12px}
.card.block b{color:#c0392b}.card.flag b{color:#d48806}.card.esc b{color:#7b3fa0}
.grid2{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px;align-items:start}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e5e8ec;padding:6px 8px;text-align:left;
vertical-align:top}th{background:#f0f3f7;font-weight:600;font-size:13px}td.num,th.num{text-align:right;
font-variant-numeric:tabular-nums}.muted{color:#889}code{font-size:12px;color:#556}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;color:#fff;white-space:nowrap}
.b-block{background:#c0392b}.b-flag{background:#e6a23c}.b-escalate{background:#7b3fa0}.b-allow{background:#5b9a68}
.chip{display:inline-block;background:#eef3fa;border:1px solid #d5e2f2;border-radius:4px;padding:0 6px;margin:1px;
font-size:12px}.sig{background:#f6ecfb;border-color:#e2c8ef}.sig.esc{background:#7b3fa0;color:#fff}
mark{padding:0 1px;border-radius:2px}mark.block{background:#f8c9c4;border-bottom:2px solid #c0392b}
mark.flag{background:#fde6b8;border-bottom:2px solid #e6a23c}mark.escalate{background:#ead5f5;
border-bottom:2px solid #7b3fa0}.text{line-height:1.7;max-width:520px}.cites{font-size:12px;color:#556;
max-width:300px}.filters{display:flex;gap:10px;margin:0 0 10px;flex-wrap:wrap}.filters input,.filters select{
padding:6px 8px;border:1px solid #c9d2dc;border-radius:4px;font:inherit}
.phrases td:first-child{font-weight:600}footer{color:#889;font-size:12px;padding:0 32px 24px}
@media print{body{background:#fff}section{box-shadow:none}}
"""

_JS = """
(function(){var q=document.getElementById('q'),d=document.getElementById('dec'),
rows=[].slice.call(document.querySelectorAll('#queue tbody tr')),n=document.getElementById('shown');
function f(){var t=q.value.trim().toLowerCase(),v=d.value,k=0;rows.forEach(function(r){
var ok=(!v||r.dataset.decision===v)&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
r.style.display=ok?'':'none';if(ok)k++;});n.textContent=k;}
q.addEventListener('input',f);d.addEventListener('change',f);})();
"""


def _pct(x: float) -> str:
    return f"{x:.1%}"


def highlight(q: QueueItem, show_pii: bool = False) -> str:
    """The text with evidence spans marked (block, flag, escalate) and PII masked."""
    if q.text is None:
        phrases = dict.fromkeys(e[2] for e in q.evidence)
        return ("<span class='muted'>（未提供原文：用 --input 传入被扫描的文件）</span><br>"
                + " ".join(f"<mark class='{escape(q.decision)}'>{escape(p)}</mark>" for p in phrases))
    shown = q.text if show_pii else mask_pii(q.text, q.pii)
    cls: list[str | None] = [None] * len(shown)
    rank = {"block": 3, "escalate": 2, "flag": 1}
    for start, end, text, action in q.evidence:
        if q.text[start:end] != text:  # offsets that do not fit this text are not drawn
            continue
        for i in range(start, min(end, len(cls))):
            if cls[i] is None or rank.get(action, 0) > rank.get(cls[i] or "", 0):
                cls[i] = action
    out, i = [], 0
    while i < len(shown):
        j = i
        while j < len(shown) and cls[j] == cls[i]:
            j += 1
        chunk = escape(shown[i:j])
        out.append(f"<mark class='{cls[i]}'>{chunk}</mark>" if cls[i] else chunk)
        i = j
    return "".join(out)


def _table(head: list[str], rows: list[list[str]], num_from: int = 1, num_to: int | None = None) -> str:
    def cls(i: int) -> str:
        return "num" if i >= num_from and (num_to is None or i < num_to) else ""

    th = "".join(f"<th class='{cls(i)}'>{h}</th>" for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(f"<td class='{cls(i)}'>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _more_agents(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    return (f"<details><summary>其余 {len(rows)} 名坐席</summary>"
            f"{_table(['坐席', '记录', '标记', '拦截', '违规率', '主要问题'], rows, 1, 5)}</details>")


def render_html(report: Report, title: str = "催收合规质检报告", queue_limit: int = 500,
                show_pii: bool = False, exports: dict[str, str] | None = None) -> str:
    r = report
    flagged = r.decisions["flag"] + r.decisions["block"]
    escalations = sum(1 for q in r.queue if q.decision == "escalate")
    cards = [("记录总数", f"{r.records:,}", ""), ("已筛查", f"{r.screened:,}", ""),
             ("违规率", _pct(r.rate(flagged)), "flag"), ("拦截", f"{r.decisions['block']:,}", "block"),
             ("标记", f"{r.decisions['flag']:,}", "flag"), ("待复核", f"{len(r.queue):,}", ""),
             ("客户需升级", f"{escalations:,}", "esc"), ("错误记录", f"{r.errors:,}", "")]
    card_html = "".join(f"<div class='card {c}'><span>{escape(k)}</span><b>{v}</b></div>" for k, v, c in cards)

    cat_rows = [[escape(r.category_names.get(c, c)), f"<code>{escape(c)}</code>", f"{n:,}", _pct(r.rate(n))]
                for c, n in r.by_category.most_common()]
    cat_chart = charts.hbar([(r.category_names.get(c, c), r.rate(n) * 100) for c, n in r.by_category.most_common()],
                            "按类别的违规率", fmt="{:.1f}%", color="#d9776b")
    sub_rows = [[escape(r.subcategory_names.get(s, s)), f"<code>{escape(s)}</code>", f"{n:,}", _pct(r.rate(n))]
                for s, n in r.by_subcategory.most_common()]
    sub_chart = charts.hbar([(r.subcategory_names.get(s, s), n) for s, n in r.by_subcategory.most_common(12)],
                            "按子类的记录数", color="#e6a23c")

    agents = sorted(r.agents.items(), key=lambda kv: (-(kv[1]["block"] + kv[1]["flag"]), kv[0]))
    agent_rows = []
    for name, a in agents:
        cats = sorted(((k[4:], v) for k, v in a.items() if k.startswith("cat:")), key=lambda kv: -kv[1])[:2]
        top = "、".join(f"{escape(r.category_names.get(c, c))}({v})" for c, v in cats) or "—"
        rate = (a["block"] + a["flag"]) / a["records"] if a["records"] else 0
        agent_rows.append([escape(name), f"{a['records']:,}", f"{a['flag']:,}", f"{a['block']:,}", _pct(rate), top])
    agent_chart = charts.stacked_hbar(
        [(name, {k: float(a[k]) for k in ("allow", "flag", "block")}) for name, a in agents[:20]],
        [("block", "拦截", charts.COLORS["block"]), ("flag", "标记", charts.COLORS["flag"]),
         ("allow", "通过", charts.COLORS["allow"])], "各坐席的结论分布")

    points = [(day, float(c["records"]), (c["flag"] + c["block"]) / c["records"] if c["records"] else 0.0)
              for day, c in sorted(r.trend.items())]
    trend_chart = charts.trend(points, "每日记录数与违规率")

    phrase_chart = charts.hbar([(p, n) for p, n in r.phrases.most_common(15)], "高频证据短语", color="#8e7cc3")
    sig_rows = [[escape(r.signal_names.get(c, c)), f"<code>{escape(c)}</code>", f"{n:,}"]
                for c, n in r.signals.most_common()]

    qrows = []
    for q in r.queue[:queue_limit]:
        subs = "".join(f"<span class='chip' title='{escape(s)}'>{escape(r.subcategory_names.get(s, s))}</span>"
                       for s in q.subcategories) or "—"
        sigs = "".join(f"<span class='chip sig{' esc' if esc else ''}'>{escape(r.signal_names.get(c, n))}</span>"
                       for c, n, esc in q.signals) or "<span class='muted'>—</span>"
        cites = "<br>".join(escape(c) for c in q.citations) or "<span class='muted'>—</span>"
        where = escape(q.queue_id) + (f"<br><span class='muted'>{SPEAKER_ZH.get(q.speaker, q.speaker)}</span>"
                                      if q.turn is not None else "")
        qrows.append(
            f"<tr data-decision='{escape(q.decision)}'><td><span class='badge b-{escape(q.decision)}'>"
            f"{DECISION_ZH.get(q.decision, q.decision)}</span><br><span class='muted'>{q.score:.2f}</span></td>"
            f"<td>{where}</td><td>{escape(q.agent_id) or '—'}<br><span class='muted'>{escape(q.time[:16].replace('T', ' '))}</span></td>"
            f"<td>{subs}</td><td class='text'>{highlight(q, show_pii)}</td><td class='cites'>{cites}</td>"
            f"<td>{sigs}</td></tr>")
    more = (f"<p class='muted'>页面只列出优先级最高的 {queue_limit} 条（共 {len(r.queue):,} 条）；完整队列见导出文件。</p>"
            if len(r.queue) > queue_limit else "")
    export_note = ""
    if exports:
        export_note = "<p>导出：" + "，".join(f"{escape(k)} <code>{escape(v)}</code>" for k, v in exports.items()) + \
            "（填写 verdict 列：confirmed / false_positive，再用 <code>nlp-guard feedback import</code> 导入）</p>"

    versions = "、".join(escape(v) for v in r.policy_versions) or "—"
    models = "、".join(escape(v) for v in r.model_versions) or "—"
    now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{escape(title)}</title><style>{_CSS}</style></head><body>
<header><h1>{escape(title)}</h1>
<p>数据：{escape(r.source)}　·　生成于 {escape(now)}</p>
<p>策略包版本：{versions}　·　模型：{models}　·　消息 {r.messages:,} 条，通话 {r.transcripts:,} 通</p></header>
<main>
<div class="cards">{card_html}</div><br>
<section id="categories"><h2>违规类别</h2><div class="grid2">
<div>{_table(["类别", "代码", "涉及记录", "占比"], cat_rows, 2) if cat_rows else "<p class='muted'>未发现违规</p>"}</div>
<div>{cat_chart}</div></div></section>
<section id="subcategories"><h2>违规子类</h2><div class="grid2">
<div>{_table(["子类", "代码", "涉及记录", "占比"], sub_rows, 2) if sub_rows else "<p class='muted'>未发现违规</p>"}</div>
<div>{sub_chart}</div></div></section>
<section id="agents"><h2>坐席表现</h2><div class="grid2">
<div>{_table(["坐席", "记录", "标记", "拦截", "违规率", "主要问题"], agent_rows[:15], 1, 5)}
{_more_agents(agent_rows[15:])}</div>
<div>{agent_chart}</div></div></section>
<section id="trend"><h2>趋势（按 sent_at / call_time 日期）</h2>{trend_chart}</section>
<section id="phrases"><h2>高频证据短语与客户信号</h2><div class="grid2"><div>{phrase_chart}</div>
<div>{_table(["客户信号", "代码", "通话数"], sig_rows, 2) if sig_rows else "<p class='muted'>无客户信号</p>"}</div>
</div></section>
<section id="queue-section"><h2>复核队列</h2>{export_note}
<div class="filters"><input id="q" placeholder="搜索：坐席、原文、子类…" size="30">
<select id="dec"><option value="">全部结论</option><option value="block">拦截</option>
<option value="escalate">客户需升级</option><option value="flag">标记</option></select>
<span class="muted">显示 <b id="shown">{len(qrows)}</b> 条</span></div>
<table id="queue"><thead><tr><th>结论</th><th>队列号</th><th>坐席 / 时间</th><th>子类</th><th>原文（高亮证据）</th>
<th>依据</th><th>客户信号</th></tr></thead><tbody>{"".join(qrows)}</tbody></table>{more}</section>
</main><footer>nlp-guard · {"个人信息未打码" if show_pii else "个人信息已打码（--show-pii 可显示）"} · 本报告为自包含离线文件</footer>
<script>{_JS}</script></body></html>
"""
