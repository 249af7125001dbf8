"""Adversarial bench: how often an evasion turns a caught violation into allow (bypass rate), and
how often the same decoration turns an allowed compliant message into flag or block (false-alarm
rate), for rules only and for rules + the shipped model, in the same run.

Source messages: the agent lines of the dev split (training/data/dev.jsonl), never test or train.
Transforms: bench/adversarial.py. A bypass counts only violations the system catches undressed;
a false alarm only compliant messages it allows undressed.

    .venv/bin/python bench/bench_adversarial.py [--limit N] [--rules-only] [--no-write] [--show N]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.adversarial import TRANSFORMS, evasions  # noqa: E402
from bench.bench_false_hits import as_message  # noqa: E402
from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402

DEV = ROOT / "training" / "data" / "dev.jsonl"
TARGET_BYPASS, TARGET_FALSE_ALARM = 0.02, 0.03


def dev_agent_rows() -> list[dict]:
    rows = [json.loads(line) for line in DEV.read_text("utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("speaker", "agent") == "agent"]


def decide(guard: Guard, messages: list[Message]) -> list[str]:
    return [d.decision for b in range(0, len(messages), 64)
            for d in guard.check_many(messages[b:b + 64], suggest=False)]


def measure(guard: Guard, rows: list[dict], show: int) -> dict:
    """Per transform: (bypasses, caught violations dressed) and (false alarms, allowed compliant dressed)."""
    base = decide(guard, [as_message(r) for r in rows])
    dressed: list[tuple[int, str, Message]] = []
    for i, r in enumerate(rows):
        m = as_message(r)
        for name, text in evasions(r["text"]).items():
            dressed.append((i, name, Message(text, m.recipient)))
    got = decide(guard, [m for _, _, m in dressed])
    per: dict[str, Counter] = {n: Counter() for n in TRANSFORMS}
    shown = 0
    for (i, name, m), verdict in zip(dressed, got, strict=True):
        violating = bool(rows[i]["labels"])
        if violating and base[i] != "allow":
            per[name]["caught"] += 1
            per[name]["bypass"] += verdict == "allow"
            if verdict == "allow" and shown < show:
                shown += 1
                print(f"  bypass [{name}] {m.recipient}: {m.text!r}")
        elif not violating and base[i] == "allow":
            per[name]["allowed"] += 1
            per[name]["false_alarm"] += verdict != "allow"
            if verdict != "allow" and shown < show:
                shown += 1
                print(f"  false alarm [{name}] {m.recipient}: {m.text!r}")
    caught_base = sum(1 for r, b in zip(rows, base, strict=True) if r["labels"] and b != "allow")
    allowed_base = sum(1 for r, b in zip(rows, base, strict=True) if not r["labels"] and b == "allow")
    return {"per": per, "caught_base": caught_base, "allowed_base": allowed_base,
            "violating": sum(1 for r in rows if r["labels"]), "compliant": sum(1 for r in rows if not r["labels"])}


def rate(a: int, b: int) -> str:
    return f"{a}/{b} ({a / b:.1%})" if b else "–"


def table(results: dict[str, dict]) -> str:
    names = list(results)
    head = "| transform | " + " | ".join(f"{n}: bypass | {n}: false alarm" for n in names) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(names))]
    for t in TRANSFORMS:
        cells = []
        for n in names:
            c = results[n]["per"][t]
            cells += [rate(c["bypass"], c["caught"]), rate(c["false_alarm"], c["allowed"])]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        tot = sum((results[n]["per"][t] for t in TRANSFORMS), Counter())
        cells += [f"**{rate(tot['bypass'], tot['caught'])}**", f"**{rate(tot['false_alarm'], tot['allowed'])}**"]
    lines.append("| all | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=0, help="first N dev agent lines only (0 = all)")
    ap.add_argument("--rules-only", action="store_true", help="skip the rules + model run")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/RESULTS.md")
    ap.add_argument("--show", type=int, default=0, help="print this many bypasses and false alarms per system")
    args = ap.parse_args()
    rows = dev_agent_rows()
    rows = rows[:args.limit] if args.limit else rows
    systems = {"rules only": Guard.default(rules_only=True)}
    if not args.rules_only:
        g = Guard.default()
        if g.classifier is not None:
            systems[f"rules + model ({g.model_version})"] = g
    results, seconds = {}, {}
    for name, guard in systems.items():
        t0 = time.perf_counter()
        print(name)
        results[name] = measure(guard, rows, args.show)
        seconds[name] = time.perf_counter() - t0
    out = []
    for name, r in results.items():
        tot = sum((r["per"][t] for t in TRANSFORMS), Counter())
        b, f = tot["bypass"] / max(1, tot["caught"]), tot["false_alarm"] / max(1, tot["allowed"])
        out.append(f"- {name}: bypass {rate(tot['bypass'], tot['caught'])} (target ≤ {TARGET_BYPASS:.0%}: "
                   f"{'met' if b <= TARGET_BYPASS else 'NOT met'}), false alarms {rate(tot['false_alarm'], tot['allowed'])} "
                   f"(target ≤ {TARGET_FALSE_ALARM:.0%}: {'met' if f <= TARGET_FALSE_ALARM else 'NOT met'}); undressed, "
                   f"it catches {r['caught_base']}/{r['violating']} violating and allows {r['allowed_base']}/{r['compliant']} "
                   f"compliant lines; {seconds[name]:.0f} s")
    body = (f"`{' '.join(['.venv/bin/python', 'bench/bench_adversarial.py', *sys.argv[1:]])}` on {len(rows)} dev agent "
            f"lines (policy {next(iter(systems.values())).policy.version}). A bypass is a violation the system catches "
            "undressed that becomes allow once dressed; a false alarm is a compliant line it allows undressed that "
            "becomes flag or block with the same decoration.\n\n" + "\n".join(out) + "\n\n" + table(results))
    print(body)
    if not args.no_write:
        write_section("Adversarial evasions (issue 12)", body)


if __name__ == "__main__":
    main()
