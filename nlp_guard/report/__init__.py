"""The QA report: one self-contained HTML file (inline CSS, JS and SVG) plus queue exports.

    aggregate.py  results (+ the scanned input for texts) → ``Report``: totals, rates, agents, trend, queue
    charts.py     inline SVG charts, drawn in Python
    html.py       ``render_html(report)`` → the page, in Chinese, viewable offline
    export.py     the review queue as CSV or XLSX, with a verdict column for the feedback loop
"""
from .aggregate import QueueItem, Report, aggregate, load_results
from .export import QUEUE_COLUMNS, queue_rows, write_queue_csv, write_queue_xlsx
from .html import render_html

__all__ = sorted(["QUEUE_COLUMNS", "QueueItem", "Report", "aggregate", "load_results", "queue_rows",
                  "render_html", "write_queue_csv", "write_queue_xlsx"])
