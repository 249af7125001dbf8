"""Benchmark live calls: concurrent simulated calls at real speed against a real ``nlp-guard serve``
with the shipped model, streamed by ``nlp_guard.live.replay`` (partial hypotheses, then each final).

Alert latency is the time from sending a final segment to receiving its alert (block, escalate,
warning), measured by the client; decision latency the same for every final's decision or
signals. First one call alone (the baseline), then ``--calls`` calls started evenly over
``--stagger`` seconds, in the same server. Writes "## Live calls" into bench/RESULTS.md.

    python bench/bench_live.py [--calls 50] [--turns 12] [--stagger 10] [--rules-only]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_api import percentile, served  # noqa: E402
from bench.results_md import RESULTS, write_section  # noqa: E402
from nlp_guard.live import CHAR_MS, PAUSE_MS, ReplayResult, Utterance, replay  # noqa: E402

AGENT_OK = ["您好，这里是某某公司贷后服务中心，请问是张先生本人吗？",
            "您在我司的借款已逾期十五天，请您尽快安排还款。",
            "如果您现在有困难，我们可以帮您申请分期还款方案。",
            "请您通过官方App或者对公账户还款，不要转给个人账户。",
            "好的，我们会把您的情况记录下来，稍后会有专人联系您。",
            "本次通话可能会被录音，用于服务质量监督。"]
AGENT_BAD = ["你再不还钱就等着瞧，我知道你住哪",
             "老赖，再不还钱后果自负",
             "你全家都会知道你欠钱不还的事",
             "明天我们就去你单位找你领导，让大家都知道"]
CUSTOMER = ["我这个月工资还没发，能不能晚几天？", "好的，我知道了。", "我已经还了一部分了，你们查一下。",
            "我失业了，实在还不上。", "你们再这样我就投诉你们。", "我真的不想活了。", "能不能少还一点利息？"]


def make_call(rng: random.Random, turns: int, alerts: bool = False) -> list[Utterance]:
    """Alternating turns; about one agent turn in four crosses the line. ``alerts``: turns 3 and 4
    are a threat and distress, so the call surely raises a block and an escalate."""
    out, clock = [], 0
    for i in range(turns):
        if alerts and i in (2, 3):
            text, speaker = (AGENT_BAD[0], "agent") if i == 2 else ("我真的不想活了。", "customer")
        elif i % 2 == 0:
            text = rng.choice(AGENT_BAD) if rng.random() < 0.25 else rng.choice(AGENT_OK)
            speaker = "agent"
        else:
            text, speaker = rng.choice(CUSTOMER), "customer"
        start = clock + PAUSE_MS
        out.append(Utterance(i + 1, speaker, text, start, start + CHAR_MS * len(text)))
        clock = out[-1].end_ms
    return out


async def run_calls(url: str, key: str, calls: list[list[Utterance]], stagger: float, tag: str) -> list[ReplayResult | BaseException]:
    async def one(i: int, utts: list[Utterance]) -> ReplayResult:
        await asyncio.sleep(stagger * i / max(1, len(calls)))
        return await replay(url, utts, f"{tag}-{i}-{time.time_ns()}", key=key, speed=1.0, end_timeout=180)
    return list(await asyncio.gather(*(one(i, u) for i, u in enumerate(calls)), return_exceptions=True))


def summarise(results: list[ReplayResult | BaseException]) -> dict[str, Any]:
    ok = [r for r in results if isinstance(r, ReplayResult)]
    alerts = [ms for r in ok for _, ms in r.alert_ms]
    decisions = [ms for r in ok for ms in r.decision_ms.values()]
    kinds: dict[str, int] = {}
    for r in ok:
        for k, _ in r.alert_ms:
            kinds[k] = kinds.get(k, 0) + 1
    return {"calls": len(results), "failed": len(results) - len(ok), "alerts": len(alerts), "kinds": kinds,
            "finals": len(decisions), "errors": sum(len(r.errors) for r in ok),
            "reconnects": sum(r.reconnects for r in ok),
            "recorded": sum(1 for r in ok if r.result and r.result.get("audit_seq")),
            "alert_p50": percentile(alerts, 0.5) if alerts else float("nan"),
            "alert_p95": percentile(alerts, 0.95) if alerts else float("nan"),
            "alert_max": max(alerts) if alerts else float("nan"),
            "decision_p50": percentile(decisions, 0.5) if decisions else float("nan"),
            "decision_p95": percentile(decisions, 0.95) if decisions else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--turns", type=int, default=12, help="turns per call (12: about a minute at real speed)")
    ap.add_argument("--stagger", type=float, default=10.0, help="seconds over which the calls start")
    ap.add_argument("--rules-only", action="store_true", help="serve without the model")
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    calls = [make_call(rng, args.turns) for _ in range(args.calls)]
    baseline_call = [make_call(rng, max(4, args.turns // 2), alerts=True)]   # half as long: the run stays bounded
    t0 = time.perf_counter()
    with served(args.rules_only) as (port, key, model):
        url = f"ws://127.0.0.1:{port}"
        base = summarise(asyncio.run(run_calls(url, key, baseline_call, 0, "baseline")))
        print(f"1 call: alert p95 {base['alert_p95']:.0f} ms, decision p95 {base['decision_p95']:.0f} ms", flush=True)
        cpu0 = time.process_time()
        t1 = time.perf_counter()
        load = summarise(asyncio.run(run_calls(url, key, calls, args.stagger, "load")))
        wall, client_cpu = time.perf_counter() - t1, time.process_time() - cpu0
    print(f"{args.calls} calls: alert p50 {load['alert_p50']:.0f} ms, p95 {load['alert_p95']:.0f} ms, "
          f"max {load['alert_max']:.0f} ms; decision p95 {load['decision_p95']:.0f} ms; {load['alerts']} alerts "
          f"{load['kinds']}; {load['failed']} failed calls, {load['errors']} error frames, {load['reconnects']} reconnects; "
          f"{load['recorded']} calls recorded; {wall:.0f} s (client CPU {client_cpu:.0f} s); whole run "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    if args.no_write:
        return
    met = "met" if load["alert_p95"] <= 300 else "**missed**"
    ratio = load["alert_p95"] / base["alert_p95"] if base["alert_p95"] == base["alert_p95"] and base["alert_p95"] else float("nan")
    cmd = "python bench/bench_live.py" + (f" --calls {args.calls}" if args.calls != 50 else "") + \
        (f" --turns {args.turns}" if args.turns != 12 else "") + (" --rules-only" if args.rules_only else "")
    lines = [f"`{cmd}` on {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, model "
             f"{model or 'none (rules only)'}: a real `nlp-guard serve` (uvicorn, SQLite WAL, synchronous=FULL). "
             f"The client (`nlp_guard.live.replay`, one asyncio loop, same machine) streams {args.turns}-turn calls at "
             f"real speed ({CHAR_MS} ms a character, {PAUSE_MS} ms between turns: about "
             f"{calls[0][-1].end_ms / 1000:.0f} s a call), three partial hypotheses before each final; about one agent "
             f"turn in four violates. Agent finals are judged with up to 6 turns of context "
             f"(`Guard.check_turn(history[-6:], turn)`); each call ends with its audited full scan. Latency: the final "
             f"sent → its alert (or decision) received, at the client. Baseline: one call alone (half as many turns), same server, same run.", "",
             "| calls | alerts | alert p50 ms | alert p95 ms | alert max ms | decision p95 ms | failed calls | error frames "
             "| calls recorded | alert p95 vs 1 call |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, r, rat in ((1, base, "1.00×"), (args.calls, load, f"{ratio:.2f}×")):
        lines.append(f"| {n} | {r['alerts']} | {r['alert_p50']:.0f} | {r['alert_p95']:.0f} | {r['alert_max']:.0f} "
                     f"| {r['decision_p95']:.0f} | {r['failed']} | {r['errors']} | {r['recorded']} | {rat} |")
    lines += ["", f"Target: alert p95 ≤ 300 ms with {args.calls} calls: {met} ({load['alert_p95']:.0f} ms). "
              f"Alerts by kind: {', '.join(f'{k} {v}' for k, v in sorted(load['kinds'].items()))}. "
              f"The client used {client_cpu:.0f} s of CPU in the {wall:.0f} s of the {args.calls}-call run, on the "
              "server's two cores."]
    write_section("Live calls", "\n".join(lines))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
