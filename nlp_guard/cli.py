"""The ``nlp-guard`` command line: check, scan, policy validate, pii redact; and the service's
commands (serve, keys, audit), loaded from the ``api`` package only when one is used."""
from __future__ import annotations

import importlib
import json
import re
import sys
from collections.abc import Callable
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import click

from .errors import GuardError, ModelNotFoundError

_COLORS = {"allow": "green", "flag": "yellow", "block": "red"}


def _guard(policy: str | None, rules_only: bool, explain: str = "auto") -> Any:
    from .guard import Guard
    from .policy import load_policy

    return Guard.default(load_policy(policy) if policy else None, rules_only=rules_only, explain=explain)


def guard_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every screening command shares."""
    fn = click.option("--rules-only", is_flag=True, help="Skip the classifier; rules, PII and context only.")(fn)
    return click.option("--policy", type=click.Path(dir_okay=False), help="A policy pack YAML instead of the bundled one.")(fn)


# The service's commands: name -> "module:attribute". Imported when a command is run or listed,
# so the core never imports the service (and works without the 'api' extra).
SERVICE_COMMANDS = {"serve": "api.commands:serve", "keys": "api.commands:keys", "audit": "api.commands:audit"}


@lru_cache
def _extra_modules(extra: str) -> frozenset[str]:
    """Import names of an extra's requirements, from the installed metadata ('prometheus-client' →
    'prometheus_client'); empty when nlp_guard is not installed."""
    try:
        requires = metadata.requires("nlp_guard") or []
    except metadata.PackageNotFoundError:
        return frozenset()
    names = set()
    for req in requires:
        spec, _, marker = req.partition(";")
        if re.search(rf"extra\s*==\s*['\"]{re.escape(extra)}['\"]", marker):
            names.add(re.split(r"[\s\[<>=!~;]", spec.strip(), maxsplit=1)[0].lower().replace("-", "_"))
    return frozenset(names)


def _importer(exc: ImportError, loading: str) -> str:
    """Where the failing import ran: the innermost frame outside the import machinery, else the
    module that was being loaded."""
    where, tb = loading, exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "?")
        if module != __name__ and module.partition(".")[0] not in ("importlib", "_frozen_importlib"):
            where = f"{module}, line {tb.tb_lineno}"
        tb = tb.tb_next
    return where


def _import_problem(exc: ImportError, loading: str) -> str:
    """What a failed import of the service (``loading``) means. Only a missing dependency of the 'api'
    extra gets the install hint; anything else is a fault in the service, shown as what it is and where."""
    missing = (exc.name or "").partition(".")[0] if isinstance(exc, ModuleNotFoundError) else ""
    if missing and missing in _extra_modules("api"):
        return f"this command needs the 'api' extra: pip install 'nlp_guard[api]' ({missing} is not installed)"
    return f"the service's commands failed to load: {type(exc).__name__} in {_importer(exc, loading)}: {exc}"


def _unavailable(name: str, problem: str) -> click.Command:
    def fail() -> None:
        raise click.ClickException(problem)

    return click.Command(name, callback=fail, help=f"(unavailable) {problem}", add_help_option=False,
                         context_settings={"ignore_unknown_options": True, "allow_extra_args": True})


@lru_cache
def _service_command(name: str) -> click.Command:
    module, _, attr = SERVICE_COMMANDS[name].partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        return _unavailable(name, _import_problem(exc, module))


class _Group(click.Group):
    """Turns library errors into one-line messages, never stack traces; finds the service's commands."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SERVICE_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        return cmd if cmd is not None or cmd_name not in SERVICE_COMMANDS else _service_command(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ModelNotFoundError as exc:
            raise click.ClickException(f"{exc}. To screen with rules only, pass --rules-only.") from None
        except GuardError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group)
@click.version_option(package_name="nlp_guard")
def main() -> None:
    """Compliance screening for Chinese debt-collection messages and call transcripts."""


@main.command()
@click.argument("text")
@click.option("--recipient", default="debtor", show_default=True,
              type=click.Choice(["debtor", "guarantor", "emergency_contact", "third_party"]),
              help="Who receives the message.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision object as JSON.")
@click.option("--explain", type=click.Choice(["auto", "head", "occlusion"]), default="auto", show_default=True,
              help="How words are found for a violation only the model sees: the model's evidence head (one pass) "
                   "or occlusion (re-scoring with words cut out; the audit reference).")
@guard_options
def check(text: str, recipient: str, as_json: bool, explain: str, policy: str | None, rules_only: bool) -> None:
    """Check one draft message and show the offending words."""
    decision = _guard(policy, rules_only, explain).check(text, recipient=recipient)
    if as_json:
        click.echo(json.dumps(decision.to_dict(), ensure_ascii=False, indent=2))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console()
    color = _COLORS[decision.decision]
    console.print(Text(f" {decision.decision.upper()} ", style=f"bold white on {color}"))
    shown = Text(text)
    for v in decision.violations:
        for e in v.evidence:
            shown.stylize(f"bold underline {_COLORS[v.action]}", e.start, e.end)
    for p in decision.pii:
        shown.stylize("reverse", p.start, p.end)
    console.print(shown)
    for v in decision.violations:
        words = "、".join(e.text for e in v.evidence)
        console.print(f"[{_COLORS[v.action]}]● {v.subcategory}[/] ({v.score:.2f}, {v.source}): {words}")
        console.print(f"   依据: {'；'.join(v.citations)}")
    for p in decision.pii:
        console.print(f"[cyan]◆ PII {p.type}[/]: {p.text}")
    if decision.rewrite:
        console.print(f"[green]建议改写:[/] {decision.rewrite}")
    model = f"model {decision.model_version}" if decision.model_version else "rules only (no model)"
    console.print(f"[dim]{model} · policy {decision.policy_version}[/]", highlight=False)


@main.command()
@click.argument("input_path", metavar="IN", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Output JSONL (default: stdout). Spark: a name ending .jsonl is one file; any other name is "
                   "a folder of part files; .parquet writes Parquet.")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "txt", "parquet"]), default="auto",
              show_default=True, help="Input format (parquet needs --engine spark).")
@click.option("--resume", is_flag=True, help="Append to OUTPUT, skipping ids already in it (after an interrupted scan).")
@click.option("--errors", "errors_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write each bad record (line, id, code, reason) to this JSONL file.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Local engine: screen in N processes (each loads the Guard once).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default="local", show_default=True,
              help="local: this machine; spark: PySpark (needs the 'spark' extra and Java 17+).")
@click.option("--master", default="local[*]", show_default=True, help="Spark master URL (--engine spark).")
@click.option("--table", help="Spark: scan this table instead of a file (--engine spark).")
@click.option("--suggest", is_flag=True, help="Add a verified compliant rewrite to each flagged message (slower).")
@guard_options
def scan(input_path: Path | None, output: Path | None, fmt: str, resume: bool, errors_path: Path | None,
         workers: int, engine: str, master: str, table: str | None, suggest: bool, policy: str | None,
         rules_only: bool) -> None:
    """Scan a JSONL, CSV or TXT file (Spark: also Parquet or a table): one output line per input line, same id."""
    if engine == "spark":
        _scan_spark(input_path, output, fmt, resume, errors_path, workers, master, table, suggest, policy, rules_only)
        return
    if table:
        raise click.UsageError("--table needs --engine spark")
    if input_path is None:
        raise click.UsageError("missing argument IN (a file to scan)")
    if not input_path.is_file():
        raise click.BadParameter(f"{input_path} is not a file", param_hint="IN")
    if fmt == "parquet":
        raise click.UsageError("Parquet input needs --engine spark")
    if resume and output is None:
        raise click.UsageError("--resume needs -o/--output: the ids already done are read from it")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.0f} rec/s" if task.speed else "… rec/s", style="cyan")

    from .batch import GuardSpec, done_ids, read_records, scan as run_scan, scan_parallel

    spec = GuardSpec(rules_only, policy)
    skip = done_ids(output) if resume and output else None
    with input_path.open("rb") as fh:
        total = sum(1 for line in fh if line.strip()) - (1 if fmt == "csv" or input_path.suffix.lower() == ".csv" else 0)
    err = Console(stderr=True)
    out = output.open("a" if resume else "w", encoding="utf-8") if output else sys.stdout
    errors = errors_path.open("a" if resume else "w", encoding="utf-8") if errors_path else None
    try:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      _RateColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=output is None) as progress:
            task = progress.add_task("scanning", total=max(total, 0))
            records = read_records(input_path, fmt)
            tick = lambda: progress.advance(task)  # noqa: E731
            if workers > 1:
                summary = scan_parallel(spec, records, out, workers, errors=errors, skip=skip, tick=tick,
                                        suggest=suggest)
            else:
                summary = run_scan(spec.build(), records, out, errors=errors, skip=skip, tick=tick, suggest=suggest)
    finally:
        if output:
            out.close()
        if errors:
            errors.close()
    from rich.table import Table

    table_ = Table(title=f"nlp-guard scan: {input_path.name}")
    table_.add_column("measure")
    table_.add_column("count", justify="right")
    table_.add_row("records", str(summary.records))
    if resume:
        table_.add_row("skipped (already done)", str(summary.skipped))
    for verdict in ("allow", "flag", "block"):
        table_.add_row(verdict, str(summary.decisions.get(verdict, 0)))
    table_.add_row("errors", str(summary.errors))
    for cat, n in sorted(summary.categories.items()):
        table_.add_row(f"violations: {cat}", str(n))
    err.print(table_)


def _scan_spark(input_path: Path | None, output: Path | None, fmt: str, resume: bool, errors_path: Path | None,
                workers: int, master: str, table: str | None, suggest: bool, policy: str | None,
                rules_only: bool) -> None:
    """``scan --engine spark``: read, screen with mapInPandas, write; a summary on stderr."""
    for flag, used in (("--resume", resume), ("--errors", errors_path), ("--workers", workers > 1)):
        if used:
            raise click.UsageError(f"{flag} is for the local engine; Spark retries failed tasks itself and "
                                   "bad records are in the output with their line number")
    if output is None:
        raise click.UsageError("--engine spark needs -o/--output")
    if (input_path is None) == (table is None):
        raise click.UsageError("give either IN (a file or folder) or --table NAME")
    if input_path is not None and not input_path.exists():
        raise click.BadParameter(f"{input_path} does not exist", param_hint="IN")
    if fmt != "auto" and table:
        raise click.UsageError("--format applies to files, not to --table")
    from rich.console import Console

    from .spark_engine import get_session, scan_path

    spark = get_session(master)
    summary = scan_path(spark, table or str(input_path), str(output), fmt=fmt, table=table is not None,
                        rules_only=rules_only, policy_path=policy, suggest=suggest)
    err = Console(stderr=True)
    d = summary["decisions"]
    err.print(f"nlp-guard scan (spark {master}): {summary['records']} records, allow {d['allow']}, "
              f"flag {d['flag']}, block {d['block']}, errors {summary['errors']} → {output} ({summary['format']})")


@main.command()
@click.argument("results", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML report to write (one self-contained file).")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The file that was scanned, so the review queue shows each text with its spans highlighted.")
@click.option("--queue-csv", type=click.Path(dir_okay=False, path_type=Path), help="Also export the review queue as CSV.")
@click.option("--queue-xlsx", type=click.Path(dir_okay=False, path_type=Path),
              help="Also export the review queue as XLSX (needs the 'report' extra).")
@click.option("--title", default="催收合规质检报告", show_default=True, help="The report's title.")
@click.option("--queue-limit", type=click.IntRange(min=1), default=500, show_default=True,
              help="Queue rows shown in the HTML (the exports hold them all).")
@click.option("--show-pii", is_flag=True, help="Show personal information instead of masking it.")
@click.option("--policy", type=click.Path(dir_okay=False), help="The policy pack the scan used (for names).")
def report(results: Path, output: Path, input_path: Path | None, queue_csv: Path | None, queue_xlsx: Path | None,
           title: str, queue_limit: int, show_pii: bool, policy: str | None) -> None:
    """Turn scan RESULTS into a QA report (HTML, in Chinese) and review-queue exports."""
    from .policy import load_policy
    from .report import aggregate, load_results, render_html, write_queue_csv, write_queue_xlsx
    from .report.aggregate import load_inputs

    rep = aggregate(load_results(results), load_inputs(input_path) if input_path else None,
                    load_policy(policy) if policy else None, source=results.name)
    exports = {}
    if queue_csv:
        write_queue_csv(rep, queue_csv, show_pii)
        exports["CSV"] = queue_csv.name
    if queue_xlsx:
        write_queue_xlsx(rep, queue_xlsx, show_pii)
        exports["XLSX"] = queue_xlsx.name
    output.write_text(render_html(rep, title, queue_limit, show_pii, exports), "utf-8")
    click.echo(f"report: {output} ({rep.records} records, {len(rep.queue)} in the review queue"
               + (f"; exports: {', '.join(exports.values())}" if exports else "") + ")")
    if not input_path:
        click.echo("note: without --input the queue shows the evidence phrases only, not the texts", err=True)


@main.group()
def feedback() -> None:
    """QA verdicts on the review queue (the feedback loop into training)."""


@feedback.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path),
              help="The SQLite feedback store (default: $NLP_GUARD_FEEDBACK_DB, else feedback.sqlite in the "
                   "user data folder, e.g. ~/.local/share/nlp_guard).")
@click.option("--reviewer", help="Reviewer for rows whose reviewer column is empty.")
def feedback_import(file: Path, store: Path | None, reviewer: str | None) -> None:
    """Store the verdicts (confirmed | false_positive) of a queue export (CSV/XLSX) or a JSONL file."""
    from .feedback import FeedbackStore

    res = FeedbackStore(store).import_file(file, reviewer)
    click.echo(f"imported {res.added} verdicts into {res.store} ({res.already_stored} already stored, "
               f"{res.not_reviewed} rows without a verdict skipped)")


@main.group()
def policy() -> None:
    """Work with policy packs."""


@policy.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
def policy_validate(file: str) -> None:
    """Validate a policy pack YAML and say what to fix."""
    from .policy import load_policy

    pack = load_policy(file)
    click.echo(f"ok: {pack.name} version {pack.version}: {len(pack.categories)} categories, "
               f"{len(pack.subcategory_codes())} subcategories, {len(pack.rules)} rules")


@main.group()
def pii() -> None:
    """Find and redact personal information."""


@pii.command("redact")
@click.argument("text", required=False)
@click.option("--style", type=click.Choice(["mask", "type"]), default="mask", show_default=True)
def pii_redact(text: str | None, style: str) -> None:
    """Redact PII in TEXT (or each line of standard input)."""
    from .redaction import redact_original

    lines = [text] if text is not None else [line.rstrip("\n") for line in sys.stdin]
    for line in lines:
        click.echo(redact_original(line, style=style))


@main.group()
def live() -> None:
    """Live calls: stream a call to the service's WebSocket and watch its alerts."""


_ALERT_STYLE = {"block": ("✕ BLOCK", "red"), "escalate": ("⚠ ESCALATE", "magenta"),
                "contact_gate": ("⛔ CONTACT_GATE", "red"), "warning": ("! WARNING", "yellow")}


def _alert_line(msg: dict[str, Any], clock: float) -> str:
    """One alert as a line: when, what, which turn, the words and the rule cited."""
    label, color = _ALERT_STYLE.get(msg["kind"], (msg["kind"], "white"))
    head = click.style(f"{label:<15}", fg=color, bold=True)
    where = f"seq {msg['seq']} " if msg.get("seq") is not None else ""
    if msg["kind"] == "contact_gate":
        body = "; ".join(v["message"] for v in msg["contact_policy"]["violations"])
    elif msg["kind"] == "escalate":
        body = "客户: " + "; ".join(f"{s['code']}「{'、'.join(e['text'] for e in s['evidence'])}」" for s in msg["signals"])
    else:
        partial = " (partial)" if msg.get("partial") else ""
        body = f"坐席{partial}: " + "; ".join(
            f"{v['subcategory']}「{'、'.join(e['text'] for e in v['evidence'])}」 依据 {v['citations'][0] if v['citations'] else '-'}"
            for v in msg["violations"])
    return f"[{int(clock // 60):02d}:{clock % 60:04.1f}] {head} {where}{body}"


@live.command("replay")
@click.argument("call_file", metavar="CALL.jsonl", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--url", required=True, help="The service, e.g. ws://127.0.0.1:8000")
@click.option("--key", envvar="NLP_GUARD_API_KEY", help="An API key with the scan scope (default: $NLP_GUARD_API_KEY).")
@click.option("--speed", type=click.Choice(["1", "10", "max"]), default="1", show_default=True,
              help="Real time, ten times faster, or as fast as possible.")
@click.option("--call-id", help="The call's id (default: the record's id or the file name, plus the time).")
@click.option("--debtor-id", help="The debtor, for the contact-policy gate.")
@click.option("--timezone", help="The debtor's IANA time zone (default: the policy's).")
@click.option("--recipient", type=click.Choice(["debtor", "guarantor", "emergency_contact", "third_party"]),
              default="debtor", show_default=True, help="Who the agent is talking to.")
@click.option("--json", "as_json", is_flag=True, help="Print every frame from the server as a JSON line.")
def live_replay(call_file: Path, url: str, key: str | None, speed: str, call_id: str | None, debtor_id: str | None,
                timezone: str | None, recipient: str, as_json: bool) -> None:
    """Stream CALL.jsonl (a transcript record, or one segment or turn per line) as timed ASR
    segments and print the alerts as they come, then the end-of-call verdict."""
    import asyncio
    import time

    try:
        from .live import SPEEDS, ReplayError, load_call, replay
        import websockets  # noqa: F401
    except ImportError as exc:
        raise click.ClickException(f"live replay needs the 'live' extra: pip install 'nlp_guard[live]' "
                                   f"({exc.name or exc} is missing)") from None
    name, utterances = load_call(call_file)
    call_id = call_id or f"{name}-{int(time.time())}"
    options = {k: v for k, v in {"debtor_id": debtor_id, "timezone": timezone, "recipient": recipient}.items() if v}
    t0 = time.perf_counter()

    def show(msg: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(msg, ensure_ascii=False))
        elif msg.get("type") == "ready":
            click.echo(f"call {call_id}: {len(utterances)} turns → {url} (policy {msg['policy_version']}, "
                       f"model {msg['model_version'] or 'none: rules only'})")
        elif msg.get("type") == "alert":
            click.echo(_alert_line(msg, time.perf_counter() - t0))
        elif msg.get("type") == "error":
            click.echo(click.style(f"error {msg['code']}: {msg['message']}", fg="red"), err=True)

    try:
        res = asyncio.run(replay(url, utterances, call_id, key=key, speed=SPEEDS[speed], options=options, on_frame=show))
    except ReplayError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        return
    r = res.result
    if r is None:
        click.echo("end: nothing recorded (no final segments)")
        return
    click.echo(f"end: {r['decision'].upper()}, escalate {'yes' if r['escalate'] else 'no'}, {len(r['turns'])} turns, "
               f"{len(res.alerts)} alerts, audit_seq {r['audit_seq']}")

