"""The CLI through click's CliRunner."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from nlp_guard.cli import main


def run(*args: str, input: str | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, ["--help"] if not args else list(args), input=input, catch_exceptions=False)


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    """Every command, the service's (loaded on demand) included."""
    ctx = click.Context(group)
    out = []
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
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
    assert r.output.splitlines()[-1].startswith("rules only (no model) · policy cn-collection-")


@pytest.mark.slow
def test_check_says_which_model_ran() -> None:
    from nlp_guard.model import check_model_dir, find_model_dir

    version = check_model_dir(find_model_dir()).version
    r = run("check", "听说你家孩子在实验小学上学，每天几点放学我们都清楚")
    assert r.exit_code == 0 and r.output.splitlines()[-1].startswith(f"model {version} · policy ")
    assert json.loads(run("check", "--json", "您好，请按时还款").output)["model_version"] == version


@pytest.mark.parametrize("args", [["check", "老赖快还钱"], ["check", "--json", "您好"]])
def test_check_without_a_model_is_a_clear_error(no_model: Path, args: list[str]) -> None:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and r.exception is not None and isinstance(r.exception, SystemExit)
    assert "Error: [E302] no model found" in r.output and str(no_model) in r.output
    assert "pass --rules-only" in r.output and "Traceback" not in r.output


def test_a_model_directory_named_in_the_environment_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NLP_GUARD_MODEL_DIR", str(tmp_path / "typo"))
    r = CliRunner().invoke(main, ["check", "您好"])
    assert r.exit_code == 1 and "[E302] model directory" in r.output and "(from NLP_GUARD_MODEL_DIR) does not exist" in r.output


@pytest.mark.timeout(60)
def test_parallel_scan_without_a_model_fails_once_before_any_worker(no_model: Path, tmp_path: Path) -> None:
    """A worker pool whose initialiser fails respawns its workers for ever; the model is looked up first."""
    src = tmp_path / "in.txt"
    src.write_text("老赖还钱\n您好请还款\n", "utf-8")
    r = CliRunner().invoke(main, ["scan", str(src), "-o", str(tmp_path / "out.jsonl"), "--workers", "2"])
    assert r.exit_code == 1 and "[E302] no model found" in r.output and "Traceback" not in r.output
    ok = run("scan", "--rules-only", str(src), "-o", str(tmp_path / "out.jsonl"), "--workers", "2")
    assert ok.exit_code == 0 and len((tmp_path / "out.jsonl").read_text("utf-8").splitlines()) == 2


# -- the service's commands: loaded on demand, import errors shown as what they are ----------
def test_importing_the_cli_does_not_import_the_service() -> None:
    import subprocess
    import sys

    code = "import sys, nlp_guard.cli; print(sorted(m for m in sys.modules if m == 'api' or m.startswith('api.')))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stdout.strip() == "[]", p.stderr


@pytest.fixture
def fake_service(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str], None]]:
    """Point 'serve' at a module written by the test (on sys.path), loaded afresh."""
    import sys

    import nlp_guard.cli as cli

    monkeypatch.syspath_prepend(str(tmp_path))
    cli._service_command.cache_clear()

    def write(source: str) -> None:
        (tmp_path / "fake_service.py").write_text(source, "utf-8")
        (tmp_path / "fake_service_inner.py").write_text('"""a module of the service"""\nimport not_a_real_dependency\n', "utf-8")
        for name in ("fake_service", "fake_service_inner"):
            sys.modules.pop(name, None)
        monkeypatch.setitem(cli.SERVICE_COMMANDS, "serve", "fake_service:serve")

    yield write
    cli._service_command.cache_clear()


@pytest.mark.parametrize(("source", "shown"), [
    ("import fake_service_inner\n",
     "ModuleNotFoundError in fake_service_inner, line 2: No module named 'not_a_real_dependency'"),
    ("from nlp_guard.guard import NoSuchThing\n",
     "ImportError in fake_service, line 1: cannot import name 'NoSuchThing' from 'nlp_guard.guard'"),
])
def test_an_import_error_inside_the_service_is_shown_as_what_it_is(fake_service: Callable[[str], None],
                                                                   source: str, shown: str) -> None:
    fake_service(source)
    for args in (["serve"], ["serve", "--port", "9"]):
        r = CliRunner().invoke(main, args)
        assert r.exit_code == 1 and "Traceback" not in r.output
        assert f"Error: the service's commands failed to load: {shown}" in r.output
        assert "extra" not in r.output  # installing the api extra would not fix this
    assert run("check", "--rules-only", "您好").exit_code == 0  # the core still works


def test_a_missing_api_extra_dependency_gets_the_install_hint(fake_service: Callable[[str], None]) -> None:
    fake_service("raise ModuleNotFoundError(\"No module named 'uvicorn'\", name='uvicorn')\n")
    r = CliRunner().invoke(main, ["serve"])
    assert r.exit_code == 1
    assert "this command needs the 'api' extra: pip install 'nlp_guard[api]' (uvicorn is not installed)" in r.output


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
