"""Rules-only decisions of this tree against another commit's, on every agent line of train, dev
and the calibration slices: what a policy change newly catches, newly allows, newly flags.

    .venv/bin/python bench/compare_rules.py [--base REV] [--show N]

Each policy change of 12-06 was checked this way before the model was run (bench/RESULTS.md,
"Red-team rounds"). The other commit is checked out in a temporary git worktree and run in a
subprocess with its own code and pack; both use this tree's virtual environment. Prints only.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# run inside each tree: decisions keyed by file:line, as JSON on stdout
_DECIDE = """
import json, sys
from pathlib import Path
root = Path(sys.argv[1]); sys.path.insert(0, str(root))
from nlp_guard import Guard
from nlp_guard.guard import Message
from nlp_guard.recipient import RECIPIENTS
data = Path(sys.argv[2])
files = [data / "train.jsonl", data / "dev.jsonl", *sorted((data / "calibration").glob("*.jsonl"))]
keys, rows = [], []
for f in files:
    for i, line in enumerate(f.read_text("utf-8").splitlines()):
        r = json.loads(line) if line.strip() else None
        if r and r.get("speaker") != "customer":
            keys.append(f"{f.name}:{i + 1}")
            rows.append(r)
msgs = [Message(r["text"], r.get("recipient") if r.get("recipient") in RECIPIENTS else "debtor") for r in rows]
ds = Guard.default(rules_only=True).check_many(msgs, suggest=False)
print(json.dumps({k: [d.decision, bool(r.get("labels")), r["text"]] for k, r, d in zip(keys, rows, ds)}, ensure_ascii=False))
"""


def decisions(tree: Path) -> dict[str, list]:
    # both trees read this tree's data, so a line means the same text on both sides
    out = subprocess.run([sys.executable, "-c", _DECIDE, str(tree), str(ROOT / "training" / "data")],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="HEAD", help="the commit to compare with (default: HEAD)")
    ap.add_argument("--show", type=int, default=20, help="lines to print per kind of change")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base), args.base], check=True)
        try:
            before = decisions(base)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=True)
    after = decisions(ROOT)
    changes: dict[str, list[str]] = {}
    for key, (was, violating, text) in before.items():
        now = after[key][0]
        if (was == "allow") != (now == "allow"):
            kind = f"{key.split(':')[0]}: {'violating' if violating else 'compliant'} newly {'allowed' if now == 'allow' else 'flagged'}"
            changes.setdefault(kind, []).append(f"  {key} {was} -> {now} {text[:80]}")
    print(f"rules only, {len(after)} agent lines, this tree against {args.base}:")
    for kind, lines in sorted(changes.items()):
        print(f"{kind}: {len(lines)}", *lines[:args.show], sep="\n")
    print(dict(Counter({k: len(v) for k, v in changes.items()})) or "no decision changed")


if __name__ == "__main__":
    main()
