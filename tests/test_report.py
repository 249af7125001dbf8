"""The QA report: numbers, queue, exports, and a real headless Chromium rendering."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.bench_scan import generate
from nlp_guard import Guard
from nlp_guard.batch import read_records, scan
from nlp_guard.cli import main
from nlp_guard.report import aggregate, load_results, render_html
from nlp_guard.report.aggregate import load_inputs
from nlp_guard.report.html import highlight


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("report")
    src, out = d / "in.jsonl", d / "out.jsonl"
    records = generate(240, 30, seed=11)
    records.append({"id": "pii-1", "agent_id": "A01", "sent_at": "2026-11-02T10:00:00+08:00",
                    "text": "老赖，打13812345678找你家人"})
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records) + "{bad\n", "utf-8")
    with out.open("w", encoding="utf-8") as fh:
        scan(Guard(), read_records(src), fh)
    return src, out


def test_aggregate_totals_rates_agents_trend_and_queue(scanned: tuple[Path, Path]) -> None:
    src, out = scanned
    results = load_results(out)
    rep = aggregate(results, load_inputs(src), source="out.jsonl")
    assert (rep.records, rep.errors, rep.transcripts) == (272, 1, 30)
    assert sum(rep.decisions.values()) == rep.screened == 271
    assert sum(a["records"] for a in rep.agents.values()) == rep.screened
    assert sum(c["records"] for c in rep.trend.values()) == rep.screened
    assert rep.by_category["threat"] and 0 < rep.rate(rep.by_category["threat"]) < 1
    assert set(rep.by_subcategory) <= set(rep.subcategory_names)
    assert rep.phrases.most_common(1)[0][1] > 5
    ranks = [q.priority for q in rep.queue]
    assert ranks == sorted(ranks, reverse=True)
    assert rep.queue[0].decision == "escalate" and rep.queue[0].speaker == "customer"
    assert {q.decision for q in rep.queue} == {"escalate", "block"}
    turns = [q for q in rep.queue if q.turn is not None and q.speaker == "agent"]
    assert turns and all(q.text for q in turns) and all(q.queue_id == f"{q.record_id}#{q.turn}" for q in turns)
    flagged = sum(1 for r in results if r.get("decision") in ("flag", "block") and "turns" not in r)
    assert sum(1 for q in rep.queue if q.turn is None) == flagged


def test_highlight_marks_every_evidence_span_and_masks_pii(scanned: tuple[Path, Path]) -> None:
    src, out = scanned
    rep = aggregate(load_results(out), load_inputs(src))
    (item,) = [q for q in rep.queue if q.record_id == "pii-1"]
    html = highlight(item)
    assert "<mark class='block'>老赖</mark>" in html
    assert "13812345678" not in html and "1*********8" in html
    assert "13812345678" in highlight(item, show_pii=True)
    for q in rep.queue[:40]:  # unmasked, so that a name inside the evidence reads as written
        marked = re.findall(r"<mark class='\w+'>([^<]*)</mark>", highlight(q, show_pii=True))
        for _, _, text, _ in q.evidence:
            assert any(text in m or m in text for m in marked), (q.queue_id, text)


def test_report_command_writes_self_contained_html_and_exports(scanned: tuple[Path, Path], tmp_path: Path) -> None:
    src, out = scanned
    html, qcsv, qxlsx = tmp_path / "r.html", tmp_path / "q.csv", tmp_path / "q.xlsx"
    r = CliRunner().invoke(main, ["report", str(out), "--input", str(src), "-o", str(html),
                                  "--queue-csv", str(qcsv), "--queue-xlsx", str(qxlsx)], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    page = html.read_text("utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) and "<link" not in page
    assert "@import" not in page and "url(" not in page
    for heading in ("违规类别", "违规子类", "坐席表现", "趋势", "高频证据短语", "复核队列"):
        assert heading in page
    assert page.count("<svg") >= 5 and "<script>" in page
    rows = list(csv.DictReader(io.StringIO(qcsv.read_text("utf-8-sig"))))
    rep = aggregate(load_results(out), load_inputs(src))
    assert len(rows) == len(rep.queue) and rows[0]["verdict"] == ""
    from openpyxl import load_workbook

    ws = load_workbook(qxlsx).active
    assert [c.value for c in ws[1]][:3] == ["queue_id", "record_id", "turn"]
    assert ws.max_row == len(rows) + 1 and ws.data_validations.dataValidation


def test_report_without_input_shows_evidence_only(scanned: tuple[Path, Path]) -> None:
    _, out = scanned
    page = render_html(aggregate(load_results(out)))
    assert "未提供原文" in page


def test_report_rejects_a_file_that_is_not_scan_output(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"text": "hello"}\n', "utf-8")
    r = CliRunner().invoke(main, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert r.exit_code == 1 and "not a scan result" in r.output and "Traceback" not in r.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(scanned: tuple[Path, Path], tmp_path: Path) -> None:
    src, out = scanned
    html, png = tmp_path / "r.html", tmp_path / "r.png"
    html.write_text(render_html(aggregate(load_results(out), load_inputs(src))), "utf-8")
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1280,2000",
         html.as_uri()], capture_output=True, timeout=120)
    assert png.exists(), proc.stderr.decode(errors="replace")[-2000:]
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 100_000  # a blank or unstyled page compresses to a few KB
