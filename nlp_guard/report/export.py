"""The review queue as CSV or XLSX, with empty verdict/reviewer/note columns for QA to fill.

The filled sheet goes back in with ``nlp-guard feedback import``.
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..errors import InputError
from .aggregate import QueueItem, Report, mask_pii

VERDICTS = ("confirmed", "false_positive")
QUEUE_COLUMNS = ("queue_id", "record_id", "turn", "agent_id", "time", "channel", "decision", "categories",
                 "subcategories", "score", "evidence", "citations", "customer_signals", "text",
                 "verdict", "reviewer", "note")
_HEADERS_ZH = {"queue_id": "队列号", "record_id": "记录ID", "turn": "轮次", "agent_id": "坐席", "time": "时间",
               "channel": "渠道", "decision": "结论", "categories": "类别", "subcategories": "子类", "score": "分数",
               "evidence": "证据", "citations": "依据", "customer_signals": "客户信号", "text": "原文",
               "verdict": "复核结论", "reviewer": "复核人", "note": "备注"}


def queue_rows(report: Report, show_pii: bool = False) -> list[dict[str, Any]]:
    return [_row(q, report, show_pii) for q in report.queue]


def _row(q: QueueItem, report: Report, show_pii: bool) -> dict[str, Any]:
    text = q.text if q.text is None or show_pii else mask_pii(q.text, q.pii)
    return {
        "queue_id": q.queue_id, "record_id": q.record_id, "turn": "" if q.turn is None else q.turn,
        "agent_id": q.agent_id, "time": q.time, "channel": q.channel, "decision": q.decision,
        "categories": ",".join(q.categories), "subcategories": ",".join(q.subcategories),
        "score": round(q.score, 4), "evidence": "、".join(dict.fromkeys(e[2] for e in q.evidence)),
        "citations": "；".join(q.citations),
        "customer_signals": "、".join(report.signal_names.get(c, n) for c, n, _ in q.signals),
        "text": text or "", "verdict": "", "reviewer": "", "note": "",
    }


def write_queue_csv(report: Report, path: Path, show_pii: bool = False) -> int:
    """UTF-8 with a BOM, so Excel opens the Chinese text right. Returns the rows written."""
    rows = queue_rows(report, show_pii)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=QUEUE_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return len(rows)


def write_queue_xlsx(report: Report, path: Path, show_pii: bool = False) -> int:
    """One sheet: machine column names in row 1, a drop-down for the verdict, frozen header."""
    try:
        from openpyxl import Workbook
        from openpyxl.comments import Comment
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.worksheet.datavalidation import DataValidation
    except ImportError:
        raise InputError("XLSX export needs openpyxl: pip install 'nlp_guard[report]'") from None
    rows = queue_rows(report, show_pii)
    wb = Workbook()
    ws = wb.active
    ws.title = "复核队列"
    ws.append(list(QUEUE_COLUMNS))
    for c, name in enumerate(QUEUE_COLUMNS, start=1):
        cell = ws.cell(row=1, column=c)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFF2CC" if name in ("verdict", "reviewer", "note") else "DDEBF7")
        cell.comment = Comment(_HEADERS_ZH[name], "nlp-guard")
    for r in rows:
        ws.append([r[c] for c in QUEUE_COLUMNS])
    widths = {"text": 60, "evidence": 24, "citations": 40, "subcategories": 28, "time": 26}
    for c, name in enumerate(QUEUE_COLUMNS, start=1):
        ws.column_dimensions[ws.cell(row=1, column=c).column_letter].width = widths.get(name, 14)
        if name in ("text", "citations"):
            for row in ws.iter_rows(min_row=2, min_col=c, max_col=c):
                row[0].alignment = Alignment(wrap_text=True, vertical="top")
    dv = DataValidation(type="list", formula1=f'"{",".join(VERDICTS)}"', allow_blank=True,
                        error="请填写 confirmed 或 false_positive", errorTitle="复核结论")
    ws.add_data_validation(dv)
    col = ws.cell(row=1, column=QUEUE_COLUMNS.index("verdict") + 1).column_letter
    dv.add(f"{col}2:{col}{max(2, len(rows) + 1)}")
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = ws.dimensions
    wb.save(path)
    return len(rows)
