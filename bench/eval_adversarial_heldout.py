"""Held-out adversarial lines by other authors: how many dressed-up violations get through.

    .venv/bin/python bench/eval_adversarial_heldout.py [--write] [--show-misses FILE]

``bench/bench_adversarial.py`` dresses test lines with transforms written here, and the policy's
padding and hearsay lists hold some of its own words, so its bypass rate is not blind. The files in
``training/data/adversarial/`` were written by three independent authors who saw only the labelling
conventions and the regulation notes, never the policy, the code or the corpus
(``training/data/adversarial/README.md``); the ``probe_redteam_*`` files are the finds of white-box
red-teamers who did read the code, kept as regression probes. ``probe_*`` files may be read to find
doors; ``sealed_*`` files are only ever scored: ``--show-misses`` refuses them.

A violating line that the Guard allows is a bypass; a compliant line that it flags or blocks is a
false alarm. Rules + model and rules only are scored in the same run.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.recipient import RECIPIENTS  # noqa: E402

DIR = ROOT / "training" / "data" / "adversarial"
CATEGORIES = {"threat", "abuse", "deception", "privacy", "coercion"}


@dataclass(frozen=True)
class Line:
    id: str
    text: str
    labels: frozenset[str]
    recipient: str
    evasion: str


def read(path: Path) -> list[Line]:
    """The file's lines; a malformed one stops the run with its line number (a typo would skew the rate)."""
    out = []
    for n, raw in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            r = json.loads(raw)
            labels = frozenset(r["labels"])
            if not labels <= CATEGORIES or r["recipient"] not in RECIPIENTS or not r["text"].strip():
                raise ValueError(f"labels {sorted(labels)} / recipient {r['recipient']!r} / empty text")
            out.append(Line(r["id"], r["text"], labels, r["recipient"], r.get("evasion", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"{path.name}:{n}: {exc}") from None
    return out


@dataclass(frozen=True)
class Score:
    violating: int
    bypass: int
    labels: int
    labels_found: int
    compliant: int
    false_alarms: int

    def cells(self) -> str:
        return " | ".join(f"{n}/{d} ({n / d:.1%})" if d else "–" for n, d in (
            (self.bypass, self.violating), (self.labels_found, self.labels), (self.false_alarms, self.compliant)))


def decide(guard: Guard, lines: list[Line]) -> list[tuple[str, set[str]]]:
    out = []
    for b in range(0, len(lines), 32):
        batch = [Message(x.text, x.recipient) for x in lines[b:b + 32]]
        out += [(d.decision, {v.category for v in d.violations}) for d in guard.check_many(batch, suggest=False)]
    return out


def score(lines: list[Line], got: list[tuple[str, set[str]]]) -> Score:
    bad = [(x, g) for x, g in zip(lines, got, strict=True) if x.labels]
    good = [(x, g) for x, g in zip(lines, got, strict=True) if not x.labels]
    return Score(len(bad), sum(g[0] == "allow" for _, g in bad), sum(len(x.labels) for x, _ in bad),
                 sum(len(x.labels & g[1]) for x, g in bad), len(good), sum(g[0] != "allow" for _, g in good))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="write the table into bench/RESULTS.md")
    ap.add_argument("--show-misses", metavar="FILE", help="print the bypasses and false alarms of one probe file")
    args = ap.parse_args()
    files = sorted(DIR.glob("*.jsonl"))
    if args.show_misses and not Path(args.show_misses).name.startswith("probe_"):
        raise SystemExit(f"{args.show_misses}: only probe_* files may be read; sealed ones are scored, never shown")
    guards = {"rules + model": Guard.default(), "rules only": Guard.default(rules_only=True)}
    model = guards["rules + model"].model_version
    rows, tags = [], Counter()
    for path in files:
        lines = read(path)
        for name, guard in guards.items():
            got = decide(guard, lines)
            rows.append(f"| {path.stem} | {name} | {score(lines, got).cells()} |")
            if name == "rules + model":
                tags.update(x.evasion for x, g in zip(lines, got, strict=True) if x.labels and g[0] == "allow")
            if args.show_misses and path.name == Path(args.show_misses).name and name == "rules + model":
                for x, (decision, cats) in zip(lines, got, strict=True):
                    if bool(x.labels) == (decision == "allow") or (x.labels and not x.labels & cats):
                        print(f"{x.id} gold {sorted(x.labels)} got {decision} {sorted(cats)} [{x.evasion}] "
                              f"{x.recipient}: {x.text!r}")
    table = "\n".join(["| file | system | violations allowed (bypass) | labels found | compliant flagged (false alarms) |",
                       "|---|---|---:|---:|---:|", *rows])
    worst = ", ".join(f"{t} {n}" for t, n in tags.most_common(8))
    body = (f"Command: `.venv/bin/python bench/eval_adversarial_heldout.py --write` (model {model}, policy "
            f"{guards['rules + model'].policy.version}). {sum(len(read(p)) for p in files)} lines: three files by independent "
            f"authors who never saw the policy, the code or the corpus, and the `probe_redteam_*` finds of white-box "
            f"red-teamers who did (`training/data/adversarial/README.md`); `probe_*` files are read to find doors "
            f"(their figures are not blind), `sealed_*` only scored.\n\n{table}\n\n"
            f"Evasions behind the most rules + model bypasses (all files): {worst or 'none'}.")
    print(body)
    if args.write:
        write_section("Adversarial: held-out authored lines (issue 12)", body)


if __name__ == "__main__":
    main()
