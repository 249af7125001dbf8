"""The CLI through click's CliRunner."""
from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nlp_guard.cli import main


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, ["--help"] if not args else list(args), input=input, catch_exceptions=False)


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in group.commands.items():
        out.append((prefix + name, cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, prefix + name + " ")
    return out


@pytest.mark.parametrize(("name", "cmd"), _commands(main), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_has_help(name: str, cmd: click.Command) -> None:
    assert cmd.help, f"'{name}' has no help text"


def test_check_json_contract() -> None:
    r = run("check", "--rules-only", "--json", "老赖，手机13812345678，后果自负")
    assert r.exit_code == 0
    d = json.loads(r.output)
    assert d["decision"] == "block"
    v = {x["subcategory"]: x for x in d["violations"]}
    assert v["abuse.insult"]["evidence"] == [{"start": 0, "end": 2, "text": "老赖"}]
    assert v["abuse.insult"]["citations"]
    assert {"category", "subcategory", "score", "evidence", "citations"} <= set(v["threat.veiled"])
    (p,) = d["pii"]
    assert {k: p[k] for k in ("type", "start", "end", "text")} == {"type": "phone", "start": 5, "end": 16, "text": "13812345678"}


def test_check_terminal_output_shows_words_and_suggestion() -> None:
    r = run("check", "--rules-only", "--recipient", "emergency_contact", "他在借呗欠了5000元逾期了")
    assert r.exit_code == 0
    assert "BLOCK" in r.output and "privacy.third_party_disclosure" in r.output and "转告" in r.output


def test_check_empty_text_is_a_clear_error() -> None:
    r = run("check", "--rules-only", " ")
    assert r.exit_code == 1
    assert "Error: [E101] text: text is empty" in r.output
    assert "Traceback" not in r.output


def test_scan_jsonl_one_line_per_input_with_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"id": "m1", "text": "老赖快还钱"}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "m3", "text": "您好，请按时还款", "recipient": "debtor"}, ensure_ascii=False),
        json.dumps({"id": "m4", "text": "你好", "colour": "red"}),
        json.dumps({"id": "t1", "turns": [{"speaker": "customer", "text": "傻逼别打了"},
                                          {"speaker": "agent", "text": "你再不还就找人收拾你"}]}, ensure_ascii=False),
        json.dumps({"id": "m6", "text": ""}),
        json.dumps({"id": "m7", "text": "借款5000元逾期", "recipient": "third_party"}, ensure_ascii=False),
    ]
    src.write_bytes(("\n".join(lines) + "\n").encode() + b'{"id": "m8", "text": "\xff\xfe"}\n')
    out = tmp_path / "out.jsonl"
    r = run("scan", "--rules-only", str(src), "-o", str(out))
    assert r.exit_code == 0, r.output
    rows = [json.loads(l) for l in out.read_text("utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["m1", 2, "m3", "m4", "t1", "m6", "m7", 8]
    by = {row["id"]: row for row in rows}
    assert by["m1"]["decision"] == "block"
    assert "malformed JSON" in by[2]["error"]["message"] and by[2]["error"]["line"] == 2
    assert by["m3"]["decision"] == "allow"
    assert by["m4"]["colour"] == "red" and by["m4"]["decision"] == "allow"  # a field the scan does not use is carried
    assert [t["decision"] for t in by["t1"]["turns"]] == ["allow", "block"]
    assert by["t1"]["turns"][0]["violations"] == []
    assert "line 6" in by["m6"]["error"]["message"] and "text is empty" in by["m6"]["error"]["message"]
    assert by["m7"]["violations"][0]["subcategory"] == "privacy.third_party_disclosure"
    assert "not valid UTF-8" in by[8]["error"]["message"]
    assert "errors" in r.output and "records" in r.output  # the summary table


@pytest.mark.parametrize(("name", "content"), [
    ("in.csv", "id,text,recipient\na,老赖还钱,debtor\nb,您好请还款,debtor\n"),
    ("in.txt", "老赖还钱\n您好请还款\n"),
])
def test_scan_csv_and_txt(tmp_path: Path, name: str, content: str) -> None:
    src = tmp_path / name
    src.write_text(content, "utf-8")
    r = run("scan", "--rules-only", str(src))
    assert r.exit_code == 0
    rows = [json.loads(l) for l in r.output.splitlines() if l.startswith("{")]
    assert [row["decision"] for row in rows] == ["block", "allow"]


def test_policy_validate(tmp_path: Path) -> None:
    from importlib import resources

    path = tmp_path / "p.yaml"
    path.write_text(resources.files("nlp_guard.data").joinpath("policy.yaml").read_text("utf-8"), "utf-8")
    r = run("policy", "validate", str(path))
    assert r.exit_code == 0 and r.output.startswith("ok:")
    path.write_text("version: 1\n", "utf-8")
    r = run("policy", "validate", str(path))
    assert r.exit_code == 1 and "(top level)" not in r.output and "categories: required field is missing" in r.output


def test_pii_redact_argument_and_stdin() -> None:
    r = run("pii", "redact", "电话13812345678，身份证11010519491231002X")
    assert r.output.strip() == "电话138****5678，身份证110***********002X"
    r = run("pii", "redact", "--style", "type", input="打给13812345678\n")
    assert r.output.strip() == "打给<PHONE>"
