"""Scans screen a block of lines per ``check_many`` call: the same output as one record at a
time, one error line per bad record, and no rewrites unless asked."""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_guard import Guard
from nlp_guard.batch import Record, blocks, parse_line, scan, screen_record, screen_records
from nlp_guard.cli import main
from nlp_guard.errors import ModelError

THREAT = "你再不还钱就等着瞧，我知道你住哪"
POLITE = "您好，您的账单已逾期，请尽快还款。"
LINES = [
    {"id": "a", "text": THREAT, "agent_id": "A1"},
    {"id": "b", "text": POLITE, "channel": "sms"},
    {"id": "ctrl", "text": "老赖\x00还钱"},                          # a control character
    {"id": "long", "text": "还" * 5001},                              # over the length limit
    {"id": "who", "text": POLITE, "recipient": "neighbour"},          # not a recipient
    {"id": "num", "text": 42},                                        # not a string
    {"id": "blank", "text": "   "},
    {"id": "extra", "text": POLITE, "colour": "red"},                 # unknown field: carried through
    {"id": "near", "text": POLITE, "recipent": "debtor"},             # a near miss of a known field
    {"id": "none", "recipient": "debtor"},                            # no text
    {"id": "t", "turns": [{"speaker": "agent", "text": THREAT}, {"speaker": "customer", "text": "我要投诉"}]},
    {"id": "badturns", "turns": "agent: hi"},
    {"id": "c", "text": "借款5000元逾期，请您督促他还款", "recipient": "third_party"},
    {"id": "d", "text": "老赖，再不还钱后果自负"},
]


def _records() -> list[Record]:
    recs = [parse_line(json.dumps(obj, ensure_ascii=False), n) for n, obj in enumerate(LINES, start=1)]
    return [r for r in recs if r is not None] + [Record(len(LINES) + 1, None, f"line {len(LINES) + 1}: malformed JSON")]


class _Spy:
    """Counts Guard.check_many calls and their sizes."""

    def __init__(self, guard: Guard, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[int] = []
        real = guard.check_many

        def spy(messages, suggest=True):  # type: ignore[no-untyped-def]
            self.sizes.append(len(messages))
            return real(messages, suggest=suggest)
        monkeypatch.setattr(guard, "check_many", spy)


def test_a_block_is_one_call_and_equals_screening_each_record_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = Guard()
    recs = _records()
    alone = [screen_record(guard, r) for r in recs]
    spy = _Spy(guard, monkeypatch)
    together = screen_records(guard, recs)
    assert together == alone
    valid = ["a", "b", "extra", "c", "d"]  # the transcript's agent turns go through check_transcript's own call
    assert spy.sizes == [len(valid), 1]
    by = {o["id"]: o for o in together}
    assert [k for k, o in by.items() if "error" not in o] == ["a", "b", "extra", "t", "c", "d"]
    assert by["a"]["decision"] == "block" and by["a"]["agent_id"] == "A1" and by["b"]["decision"] == "allow"
    assert "control character U+0000" in by["ctrl"]["error"]["message"]
    assert "5001 characters" in by["long"]["error"]["message"]
    assert "recipient: 'neighbour'" in by["who"]["error"]["message"]
    assert "text: expected a string" in by["num"]["error"]["message"]
    assert "text is empty" in by["blank"]["error"]["message"] and by["blank"]["error"]["line"] == 7
    assert by["extra"]["colour"] == "red" and by["extra"]["decision"] == "allow"
    assert "recipent" in by["near"]["error"]["message"] and "recipient" in by["near"]["error"]["message"]
    assert "text: missing" in by["none"]["error"]["message"]
    assert "turns: expected a list" in by["badturns"]["error"]["message"]
    assert by[15]["error"]["message"] == "line 15: malformed JSON"
    assert all(o.get("rewrite") is None for o in together)  # a scan asks for no rewrites


class _Fragile:
    """A classifier that fails a whole batch when one text in it contains 炸 (a model error)."""

    version, labels = "fragile-1", ("threat", "abuse", "deception", "privacy", "coercion")

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if any("炸" in t for t in texts):
            raise ModelError("the model failed on this input")
        return [dict.fromkeys(self.labels, 0.1) for _ in texts]


def test_a_record_that_fails_the_batch_costs_the_others_nothing() -> None:
    guard = Guard(classifier=_Fragile())
    recs = [parse_line(json.dumps({"id": i, "text": t}, ensure_ascii=False), i)
            for i, t in enumerate([POLITE, "炸了" + POLITE, THREAT, POLITE], start=1)]
    out = screen_records(guard, [r for r in recs if r is not None])
    assert [o.get("decision") for o in out] == ["allow", None, "block", "allow"]
    assert out[1]["error"] == {"line": 2, "code": "E301", "message": "line 2: the model failed on this input"}


def test_blocks_follow_line_numbers_not_counts() -> None:
    recs = [Record(n, {"text": "x"}) for n in (1, 2, 31, 32, 33, 40, 64, 65, 200)]
    assert [[r.line for r in b] for b in blocks(recs, 32)] == [[1, 2, 31, 32], [33, 40, 64], [65], [200]]
    assert list(blocks([], 32)) == []


def test_scan_output_does_not_depend_on_how_records_are_grouped(tmp_path: Path) -> None:
    guard = Guard()
    recs = _records() * 3
    recs = [Record(n, r.data, r.error) for n, r in enumerate(recs, start=1)]
    out = tmp_path / "o.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        summary = scan(guard, recs, fh)
    assert [json.loads(x) for x in out.read_text("utf-8").splitlines()] == [screen_record(guard, r) for r in recs]
    assert summary.records == len(recs) and summary.errors == 9 * 3


@pytest.mark.parametrize("workers", ["1", "2"])
def test_scan_adds_rewrites_only_with_suggest(tmp_path: Path, workers: str) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in LINES[:2]), "utf-8")
    rows = {}
    for flag in ([], ["--suggest"]):
        out = tmp_path / f"out{len(flag)}.jsonl"
        r = CliRunner().invoke(main, ["scan", "--rules-only", "--workers", workers, str(src), "-o", str(out), *flag],
                               catch_exceptions=False)
        assert r.exit_code == 0, r.output
        rows[bool(flag)] = [json.loads(x) for x in out.read_text("utf-8").splitlines()]
    assert [r["rewrite"] for r in rows[False]] == [None, None]
    rewrite = rows[True][0]["rewrite"]
    assert rewrite and "等着瞧" not in rewrite and rows[True][1]["rewrite"] is None
    assert Guard().check(rewrite).decision == "allow"  # a rewrite that is shown passes the check
    assert [r["violations"] for r in rows[True]] == [r["violations"] for r in rows[False]]


def _dev_agent_lines(n: int = 400) -> list[dict]:
    """``n`` agent lines spread over the dev split (every k-th, so every category shows), each to a
    recipient a message can name (the split's ``company_staff`` lines are a recipient-rule slice)."""
    from nlp_guard.guard import RECIPIENTS

    rows = [json.loads(line) for line in (Path(__file__).resolve().parents[1] / "training" / "data" / "dev.jsonl")
            .read_text("utf-8").splitlines()]
    agent = [r for r in rows if r.get("speaker") != "customer" and r["recipient"] in RECIPIENTS]
    return [{"id": f"dev{i}", "text": r["text"], "recipient": r["recipient"]}
            for i, r in enumerate(agent[::max(1, len(agent) // n)][:n])]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_scan_reports_exactly_what_check_many_decides(tmp_path: Path, workers: int) -> None:
    """400 dev agent lines: every output line holds the very decision and findings (evidence spans
    included) of ``Guard.check_many`` in this process, for one process and for forked workers."""
    from nlp_guard.batch import GuardSpec, read_records, scan_parallel
    from nlp_guard.guard import Message

    lines = _dev_agent_lines()
    src = tmp_path / "dev.jsonl"
    src.write_text("".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in lines), "utf-8")
    guard = Guard.default(rules_only=True)
    expected = [d.to_dict() for b in range(0, len(lines), 32)
                for d in guard.check_many([Message(o["text"], o["recipient"]) for o in lines[b:b + 32]], suggest=False)]
    out = tmp_path / "out.jsonl"
    with out.open("w", encoding="utf-8") as fh:
        if workers == 1:
            scan(guard, read_records(src), fh)
        else:
            scan_parallel(GuardSpec(rules_only=True), read_records(src), fh, workers)
    got = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [g.pop("id") for g in got] == [o["id"] for o in lines]
    assert got == expected
    assert {"allow", "block"} <= {d["decision"] for d in expected}  # the sample is not one-sided


def test_the_worker_fork_server_is_warmed_once_for_every_worker() -> None:
    """Importing the workers' preload in a fresh interpreter leaves the process-wide state each worker
    would otherwise build for itself already built (a warm-up that silently warms nothing fails here)."""
    import subprocess
    import sys

    from nlp_guard.batch import WORKER_PRELOAD

    code = ("import importlib, sys\n"
            f"for m in {[m for m in WORKER_PRELOAD if m != '__main__']!r}: importlib.import_module(m)\n"
            "from nlp_guard import normalize, segment\n"
            "from nlp_guard.pii import ner\n"
            "print(segment._base.cache_info().currsize, normalize._variants.cache_info().currsize,\n"
            "      ner._State.loaded is not None or ner._State.reason is not None)\n")
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1", "True"]
