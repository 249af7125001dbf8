"""The ``nlp-guard`` command line: check, scan, policy validate, pii redact."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .errors import GuardError

_COLORS = {"allow": "green", "flag": "yellow", "block": "red"}


def _guard(policy: str | None, rules_only: bool) -> Any:
    from .guard import Guard
    from .policy import load_policy

    return Guard.default(load_policy(policy) if policy else None, rules_only=rules_only)


def guard_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every screening command shares."""
    fn = click.option("--rules-only", is_flag=True, help="Skip the classifier; rules, PII and context only.")(fn)
    return click.option("--policy", type=click.Path(dir_okay=False), help="A policy pack YAML instead of the bundled one.")(fn)


class _Group(click.Group):
    """Turns library errors into one-line messages, never stack traces."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
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
@guard_options
def check(text: str, recipient: str, as_json: bool, policy: str | None, rules_only: bool) -> None:
    """Check one draft message and show the offending words."""
    decision = _guard(policy, rules_only).check(text, recipient=recipient)
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


@main.command()
@click.argument("input_path", metavar="IN", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Output JSONL (default: stdout).")
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "csv", "txt"]), default="auto", show_default=True)
@guard_options
def scan(input_path: Path, output: Path | None, fmt: str, policy: str | None, rules_only: bool) -> None:
    """Scan a JSONL, CSV or TXT file: one output line per input line, same id."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        def render(self, task: Any) -> Text:
            return Text(f"{task.speed:.0f} rec/s" if task.speed else "… rec/s", style="cyan")

    from rich.table import Table

    from .batch import read_records, scan as run_scan

    guard = _guard(policy, rules_only)
    with input_path.open("rb") as fh:
        total = sum(1 for line in fh if line.strip())
    err = Console(stderr=True)
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                      _RateColumn(), TimeRemainingColumn(),
                      console=err, transient=True, disable=output is None) as progress:
            task = progress.add_task("scanning", total=total)
            records = (progress.advance(task) or r for r in read_records(input_path, fmt))
            summary = run_scan(guard, records, out)
    finally:
        if output:
            out.close()
    table = Table(title=f"nlp-guard scan: {input_path.name}")
    table.add_column("measure")
    table.add_column("count", justify="right")
    table.add_row("records", str(summary.records))
    for verdict in ("allow", "flag", "block"):
        table.add_row(verdict, str(summary.decisions.get(verdict, 0)))
    table.add_row("errors", str(summary.errors))
    for cat, n in sorted(summary.categories.items()):
        table.add_row(f"violations: {cat}", str(n))
    err.print(table)


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


# The service's commands (serve, keys, audit) come with the 'api' extra.
try:
    from api.commands import COMMANDS as _API_COMMANDS
except ImportError as _exc:
    _hint = f"this command needs the 'api' extra: pip install 'nlp_guard[api]' ({_exc.name or _exc} is missing)"
    for _name in ("serve", "keys", "audit"):
        @main.command(_name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                      help=f"(needs the 'api' extra) {_name}", add_help_option=False)
        def _unavailable() -> None:
            raise click.ClickException(_hint)
else:
    for _cmd in _API_COMMANDS:
        main.add_command(_cmd)
