"""Batch-scanning throughput: local engine (1 process, N workers) and Spark local[N].

    .venv/bin/python bench/bench_scan.py                              # 100k messages + 5k transcripts
    .venv/bin/python bench/bench_scan.py --messages 20000 --transcripts 1000 --write

The load is seeded and synthetic: the message and call templates of
nlp_guard/data/samples.jsonl plus more of the same kind, with names, amounts,
days, platforms, fillers, agents, channels and dates varied. A record is one
message or one transcript (a transcript has 3 to 8 turns). Throughput is
records/s over the whole input; per-core rate is throughput / the cores an
engine keeps busy: one per process for rules only (Python holds one; the NER's thread
beside it uses part of a second, so for rules only the CPU-time ratio is the fairer one);
with the model, the single process's ONNX session uses every core, local
workers split the cores between them, and Spark runs one model thread per task
slot. Spark
is timed after its session is up and after a warm-up scan of 2,000 lines (the
JVM start and the warm-up are reported apart); the timed run includes reading
the input and writing one JSONL file.

Issue 13's yardstick, measured in the same run: the same records through ``Guard`` in
this process (messages by ``check_many`` in batches of 32, transcripts by
``check_transcript``; no files, no JSON, no rewrites), per busy core. Each engine's
per-core rate is compared with it, and so is its CPU time per record (summed over the
engine's processes: a measure that other work on the machine stretches far less than wall
time). The 1-process scan's output is compared with
the yardstick's decisions record for record (the scan must not change a finding).

Every engine starts with an empty NER cache (the name recognizers remember the
entities of the last 2,048 texts, and a load of templates repeats texts): the
in-process runs clear it, the local workers start empty, and Spark's warm-up scans
a load of another seed. One-time imports are done before the timings (the Guard
build row); the local workers' fork server imports them once per scan, reported
apart like Spark's session start.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import write_section  # noqa: E402
from nlp_guard.batch import WORKER_PRELOAD, GuardSpec, read_records, scan, scan_parallel, worker_threads  # noqa: E402
from nlp_guard.spark_engine import TASK_THREADS  # noqa: E402

SECTION = "Batch scanning (issue 5)"
NAMES = ["张伟", "李娜", "王芳", "刘洋", "陈静", "杨磊", "赵敏", "黄勇", "周杰", "吴霞"]
PLATFORMS = ["借呗", "微粒贷", "安逸花", "京东金条", "分期乐", "招联金融", "有钱花"]
FILLERS = ["", "", "您好，", "喂，", "那个，", "【催收中心】"]
TAILS = ["", "", "。", "！", "【回T退订】", "，收到请回复。"]
MESSAGES = [
    "尊敬的{name}，您在{platform}的借款{amount}已逾期{days}天，请于今日通过官方APP还款，以免影响您的信用记录。",
    "您好，您的账单已逾期{days}天，如有困难可致电我司协商分期还款方案。",
    "谨防冒充公检法诈骗。我司不会要求您向个人账户转账，请通过官方APP或对公账户还款。",
    "{name}，请您本人尽快回电处理{platform}的欠款，谢谢配合。",
    "老赖，再不还钱我们就去你单位闹，让你同事都知道你欠钱不还，后果自负！",
    "我是朝阳区法院执行局的，你已经被立案了，明天上午民警就上门带人。",
    "实在没钱就去别的平台借点，或者信用卡套现先把我们这笔还上。",
    "你个骗子，{days}天了一分钱不还，等着坐牢吧",
    "再拖下去我们就通知你的通讯录好友，让大家都知道{name}欠{platform}{amount}不还。",
    "听说你儿子在实验小学上学，每天几点放学我们都清楚",
    "您好，麻烦您转告{name}尽快回电，有重要事情需要他本人处理，谢谢。",
    "您的欠款{amount}已逾期，我司将依法通过诉讼等合法途径主张权利。",
]
THIRD_PARTY = "您好，您是{name}的紧急联系人，他在{platform}的借款{amount}已逾期{days}天，请您督促他还款。"
AGENT_TURNS = [
    "您好，我是受平台委托的催收专员，工号{days}，请问是{name}本人吗？",
    "您的账单已逾期{days}天，您今天能处理吗？",
    "理解您的困难，我们可以帮您申请分期，请勿通过借新还旧解决。",
    "你个老赖，再不还钱我们就上门找你家人",
    "不还钱就等着法院传票吧，明天就去你单位",
    "好的，那我给您登记{date}还款{amount}，请按时处理。",
]
CUSTOMER_TURNS = ["是我，怎么了", "你们天天打电话，我要投诉你们", "我失业了，实在还不上", "我已经还了啊，你们算错了",
                  "我真的活不下去了", "下周发工资就还", "你敢来我就报警", "好的我知道了"]


def _fill(t: str, rng: random.Random) -> str:
    return t.format(name=rng.choice(NAMES), platform=rng.choice(PLATFORMS), days=rng.choice([3, 7, 15, 30, 45, 90]),
                    amount=f"{rng.randint(5, 500) * 100}元", date=f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日")


def generate(messages: int, transcripts: int, seed: int = 5) -> list[dict]:
    """The seeded load: ``messages`` messages and ``transcripts`` calls, interleaved."""
    rng = random.Random(seed)
    out = []
    for i in range(messages):
        day, hour = rng.randint(1, 30), rng.randint(8, 22)
        rec = {"id": f"m{i:06d}", "channel": rng.choice(["sms", "wechat", "app"]),
               "agent_id": f"A{rng.randint(1, 40):02d}", "sent_at": f"2026-11-{day:02d}T{hour:02d}:15:00+08:00"}
        if rng.random() < 0.06:
            rec |= {"text": _fill(THIRD_PARTY, rng), "recipient": "emergency_contact"}
        else:
            rec |= {"text": rng.choice(FILLERS) + _fill(rng.choice(MESSAGES), rng) + rng.choice(TAILS),
                    "recipient": "debtor"}
        out.append(rec)
    for i in range(transcripts):
        turns = []
        for k in range(rng.randint(3, 8)):
            pool = AGENT_TURNS if k % 2 == 0 else CUSTOMER_TURNS
            turns.append({"speaker": "agent" if k % 2 == 0 else "customer", "text": _fill(rng.choice(pool), rng)})
        out.insert(rng.randrange(len(out) + 1), {
            "id": f"c{i:05d}", "agent_id": f"A{rng.randint(1, 40):02d}",
            "call_time": f"2026-11-{rng.randint(1, 30):02d}T{rng.randint(9, 20):02d}:00:00+08:00", "turns": turns})
    return out


def _cold_names() -> None:
    """Empty this process's NER cache, so a timed run screens every text afresh."""
    from nlp_guard.pii.ner import get_ner

    ner = get_ner()
    if ner is not None:
        ner.clear()


def _tree_cpu() -> float:
    """CPU seconds used so far by this process and every process under it (local workers, reaped
    by the fork server; Spark's JVM and its Python workers), for a per-record cost that other
    work on the machine does not stretch as it stretches wall time."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                f = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone since the listing
                continue
            stats[int(entry.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / tick)
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += stats.get(pid, (0, 0.0))[1]
        todo += children.get(pid, [])
    return total


def _time_guard(spec: GuardSpec, records: list[dict]) -> tuple[float, float, dict[int, dict]]:
    """Seconds and CPU seconds for the load straight through one Guard (the scan engines'
    yardstick), and each record's result object by its position in the load."""
    from nlp_guard.guard import Message

    guard = spec.build()
    texts = [i for i, r in enumerate(records) if "text" in r]
    msgs = [Message(records[i]["text"], records[i].get("recipient", "debtor")) for i in texts]
    calls = [i for i, r in enumerate(records) if "turns" in r]
    decided: list = []
    _cold_names()
    t, cpu = time.perf_counter(), _tree_cpu()
    for b in range(0, len(msgs), 32):
        decided += guard.check_many(msgs[b:b + 32], suggest=False)
    decided += [guard.check_transcript(records[i]["turns"]) for i in calls]
    seconds, cpu = time.perf_counter() - t, _tree_cpu() - cpu
    return seconds, cpu, {i: d.to_dict() for i, d in zip(texts + calls, decided, strict=True)}


def _same_as_guard(out: Path, records: list[dict], expected: dict[int, dict]) -> bool:
    """Whether a scan's output holds, record for record, the yardstick's result objects
    (the output line less the id and the fields it carries over from the input)."""
    from nlp_guard.batch import PASS_THROUGH

    lines = out.read_text("utf-8").splitlines()
    if len(lines) != len(records):
        return False
    for i, line in enumerate(lines):
        got = json.loads(line)
        for k in ("id", *PASS_THROUGH):
            got.pop(k, None)
        if got != expected[i]:
            return False
    return True


def _time_local(spec: GuardSpec, src: Path, out: Path, workers: int) -> tuple[float, float]:
    if workers == 1:
        _cold_names()
    t, cpu = time.perf_counter(), _tree_cpu()
    with out.open("w", encoding="utf-8") as fh:
        if workers == 1:
            scan(spec.build(), read_records(src), fh)
        else:
            scan_parallel(spec, read_records(src), fh, workers)  # its workers are reaped by the time it returns
    return time.perf_counter() - t, _tree_cpu() - cpu


def _start_fork_server() -> float:
    """Seconds to start the fork server local workers come from (it imports ``WORKER_PRELOAD``
    once per scan process), so the timed 2-worker run starts only its workers."""
    import multiprocessing as mp

    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(list(WORKER_PRELOAD))
    t = time.perf_counter()
    with ctx.Pool(1) as pool:  # a first child is forked only once the server's imports are done
        pool.apply(int)
    return round(time.perf_counter() - t, 1)


def run(args: argparse.Namespace) -> dict:
    from nlp_guard.errors import ModelNotFoundError
    from nlp_guard.guard import Message
    from nlp_guard.model import find_model_dir

    tmp = Path(tempfile.mkdtemp(prefix="bench_scan_"))
    src = tmp / "load.jsonl"
    records = generate(args.messages, args.transcripts, args.seed)
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    n = len(records)
    turns = sum(len(r.get("turns", [])) for r in records)
    modes = [("rules only", True)]
    if not args.rules_only:
        try:
            find_model_dir()
        except ModelNotFoundError as exc:
            raise SystemExit(f"{exc}; run with --rules-only for the rules-only rows") from None
        modes.append(("rules + model", False))
    results: dict = {"records": n, "messages": args.messages, "transcripts": args.transcripts, "turns": turns,
                     "modes": {}}
    spark = None
    if not args.no_spark:
        from nlp_guard.spark_engine import get_session

        t = time.perf_counter()
        spark = get_session(f"local[{args.workers}]", "nlp-guard bench")
        results["spark_session_s"] = round(time.perf_counter() - t, 1)
    for label, rules_only in modes:
        spec = GuardSpec(rules_only=rules_only)
        t = time.perf_counter()
        first = spec.build()  # and the modules its first check imports (NER, homophone table)
        first.check_many([Message(records[0].get("text", "您好"))], suggest=False)
        build_s = time.perf_counter() - t
        row: dict = {"guard_build_s": round(build_s, 2)}
        if args.workers > 1:
            row["fork_server_s"] = _start_fork_server()
        single, single_cpu = _time_local(spec, src, tmp / "local1.jsonl", 1)
        # rules only: one core per process for Python, although the NER's own thread can use part of a
        # second (CPU / wall time shows how much); counted as one, the yardstick's per-core rate errs high
        def busy(processes: int, model_threads: int) -> int:
            return min(os.cpu_count() or 1, processes * (1 if rules_only else model_threads))

        g, g_cpu, expected = _time_guard(spec, records)
        row["guard_identical"] = _same_as_guard(tmp / "local1.jsonl", records, expected)
        row["guard_batch"] = {"seconds": round(g, 1), "rec_s": round(n / g, 1), "processes": 1,
                              "cores": busy(1, os.cpu_count() or 1), "cpu_s": round(g_cpu, 2)}
        row["local_1"] = {"seconds": round(single, 1), "rec_s": round(n / single, 1), "processes": 1,
                          "cores": busy(1, os.cpu_count() or 1), "cpu_s": round(single_cpu, 2)}
        multi, multi_cpu = _time_local(spec, src, tmp / f"local{args.workers}.jsonl", args.workers)
        row[f"local_{args.workers}"] = {"seconds": round(multi, 1), "rec_s": round(n / multi, 1),
                                        "cpu_s": round(multi_cpu, 2),
                                        "processes": args.workers,
                                        "cores": busy(args.workers, worker_threads(args.workers))}
        same = (tmp / "local1.jsonl").read_bytes() == (tmp / f"local{args.workers}.jsonl").read_bytes()
        row["workers_identical"] = same
        if spark is not None:
            from nlp_guard.spark_engine import scan_path

            warm = tmp / "warm.jsonl"  # JIT, Python workers and their Guards warmed, untimed, on other records
            warm.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                    for r in generate(1900, 100, args.seed + 1)), "utf-8")
            t = time.perf_counter()
            scan_path(spark, str(warm), str(tmp / "warm.out.jsonl"), rules_only=rules_only)
            row["spark_warmup_s"] = round(time.perf_counter() - t, 1)
            t, cpu = time.perf_counter(), _tree_cpu()
            scan_path(spark, str(src), str(tmp / "spark.jsonl"), rules_only=rules_only)
            sp, cpu = time.perf_counter() - t, _tree_cpu() - cpu
            row[f"spark_local_{args.workers}"] = {"seconds": round(sp, 1), "rec_s": round(n / sp, 1),
                                                  "cpu_s": round(cpu, 2),
                                                  "processes": args.workers, "cores": busy(args.workers, TASK_THREADS)}
            row["spark_identical"] = (tmp / "spark.jsonl").read_bytes() == (tmp / "local1.jsonl").read_bytes()
        results["modes"][label] = row
        print(label, json.dumps(row), flush=True)
    if spark is not None:
        spark.stop()
    return results


def markdown(res: dict, args: argparse.Namespace) -> str:
    w = args.workers
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Command: `.venv/bin/python bench/bench_scan.py --messages {args.messages} --transcripts {args.transcripts}"
        f" --write`. Load: {res['records']:,} records ({res['messages']:,} messages, {res['transcripts']:,} "
        f"transcripts with {res['turns']:,} turns), seeded (seed {args.seed}). Machine: {os.cpu_count()} cores "
        f"({cpu}), Python {platform.python_version()}.",
        "",
        "| mode | engine | processes | cores busy | seconds | records/s | per-core records/s | ms per record per core "
        "| CPU ms per record (all its processes) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, row in res["modes"].items():
        for key, name in (("guard_batch", "Guard check_many in-process (yardstick)"), ("local_1", "local, 1 process"), (f"local_{w}", f"local, {w} workers"),
                          (f"spark_local_{w}", f"Spark local[{w}]")):
            if key not in row:
                continue
            r = row[key]
            per_core = r["rec_s"] / r["cores"]
            lines.append(f"| {label} | {name} | {r['processes']} | {r['cores']} | {r['seconds']} | {r['rec_s']:,.0f} | "
                         f"{per_core:,.0f} | {1000 / per_core:.2f} | {1000 * r['cpu_s'] / res['records']:.2f} |")
    lines.append("")
    for label, row in res["modes"].items():
        local = row["local_1"]["rec_s"] / row["local_1"]["cores"]
        guard_core = row["guard_batch"]["rec_s"] / row["guard_batch"]["cores"]
        for key, name in ((f"local_{w}", f"local {w} workers"), (f"spark_local_{w}", f"Spark local[{w}]")):
            if key in row:
                core = row[key]["rec_s"] / row[key]["cores"]
                lines.append(f"- {label}: {name} per busy core / Guard batch per busy core: {core:,.1f} / "
                             f"{guard_core:,.1f} records/s = {core / guard_core:.2f}× (target ≥ 0.7×); "
                             f"by CPU time, Guard / {name}, CPU seconds for the load: "
                             f"{row['guard_batch']['cpu_s']:.2f} / {row[key]['cpu_s']:.2f} s = "
                             f"{row['guard_batch']['cpu_s'] / row[key]['cpu_s']:.2f}×")
        notes = [f"Guard build {row['guard_build_s']} s (once per process)",
                 f"Spark warm-up scan of 2,000 lines of another seed before the timed run (untimed): "
                 f"{row.get('spark_warmup_s')} s",
                 f"{w}-worker output identical to 1 process: {row['workers_identical']}",
                 f"1-process output identical to the Guard's own results: {row['guard_identical']}"]
        if "fork_server_s" in row:
            multi = row[f"local_{w}"]
            with_start = res["records"] / (multi["seconds"] + row["fork_server_s"]) / multi["cores"]
            notes.append(f"local workers' fork server start (imports, once per scan process, not in the timings): "
                         f"{row['fork_server_s']} s; with it, local {w} workers per busy core = {with_start:,.0f} "
                         f"records/s = {with_start / guard_core:.2f}× the Guard")
        if f"spark_local_{w}" in row:
            spark_core = row[f"spark_local_{w}"]["rec_s"] / row[f"spark_local_{w}"]["cores"]
            ratio = local / spark_core
            notes.append(f"Spark output identical to local: {row['spark_identical']}")
            notes.append(f"local per-core rate / Spark per-core rate = {ratio:.2f}× "
                         f"({'within' if ratio <= 1.3 else 'NOT within'} the 1.3× target)")
            multi_core = row[f"local_{w}"]["rec_s"] / row[f"local_{w}"]["cores"]
            notes.append(f"local {w}-worker per-core rate / Spark per-core rate = {multi_core / spark_core:.2f}×")
            est = spark_core
            notes.append(f"cluster estimate at the measured Spark per-core rate ({est:,.0f} records/s/core): "
                         f"100 executor cores ≈ {est * 100:,.0f} records/s ≈ {est * 100 * 3600 / 1e6:,.1f} M records/h; "
                         f"a month of 500k call transcripts ≈ {500_000 / (est * 100) / 60:,.1f} min on 100 cores "
                         "(input/output I/O and skew not included; calls here average "
                         f"{res['turns'] / max(res['transcripts'], 1):.1f} turns)")
        lines.append(f"- {label}: " + "; ".join(notes) + ".")
    if "spark_session_s" in res:
        lines.append(f"- Spark session start (JVM, not in the timings above): {res['spark_session_s']} s.")
    if args.rules_only:
        lines.append("- Rules only (--rules-only): no model rows.")
    if args.note:
        lines.append(f"- {args.note}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--transcripts", type=int, default=5_000)
    ap.add_argument("--workers", type=int, default=2, help="local worker processes and Spark local[N] cores")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--rules-only", action="store_true", help="skip the model rows (without it, a missing model is an error)")
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--write", action="store_true", help=f"write the '{SECTION}' section of bench/RESULTS.md")
    ap.add_argument("--note", default="", help="a line to add to the section (e.g. what else ran on the machine)")
    args = ap.parse_args()
    res = run(args)
    md = markdown(res, args)
    print(md)
    if args.write:
        write_section(SECTION, md)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
