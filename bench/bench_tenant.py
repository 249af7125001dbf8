"""Cost of a tenant: building a Guard for a pack with an overlay, and its first check that needs
word segmentation (each pack has its own jieba tokenizer, copied from the base dictionary).
Baseline in the same run: the base pack's Guard and first check.

    .venv/bin/python bench/bench_tenant.py [--tenants 5]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlp_guard import Guard  # noqa: E402
from nlp_guard.policy import apply_overlay, default_policy, load_overlay  # noqa: E402

TEXT = "我们知道孩子上学的地方"  # reaches the token rules, so the pack's tokenizer is built


def timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tenants", type=int, default=5)
    args = ap.parse_args()
    base = default_policy()
    build, guard = timed(lambda: Guard(base))
    first, _ = timed(lambda: guard.check(TEXT, suggest=False))
    print(f"base pack: Guard {build:.0f} ms, first check {first:.0f} ms (loads jieba's dictionary)")
    for i in range(args.tenants):
        overlay = load_overlay({"tenant": f"t{i}", "add_rules": [{"id": f"t{i}.tokens", "subcategory": "threat.family",
                                "score": 0.8, "tokens": [[f"孩子上学{i}"], ["地方"]], "gap": 3}]})
        build, g = timed(lambda o=overlay: Guard(apply_overlay(base, o)))
        first, _ = timed(lambda g=g: g.check(TEXT, suggest=False))
        again, _ = timed(lambda g=g: g.check(TEXT, suggest=False))
        print(f"tenant t{i}: Guard {build:.0f} ms, first check {first:.0f} ms (own tokenizer), next check {again:.1f} ms")


if __name__ == "__main__":
    main()
