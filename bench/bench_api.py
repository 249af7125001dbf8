"""Benchmark the HTTP service: a real ``nlp-guard serve`` on 127.0.0.1, driven over HTTP.

Records p50/p99 latency of POST /v1/check at concurrency 1, 8 and 32, and throughput,
with the shipped model (``--modes model`` fails when there is none) and in rules-only mode, and
writes them into bench/RESULTS.md under "## API". Bounded: at most ``--requests`` per
level and ``--seconds`` per level.

    python bench/bench_api.py [--requests 1500] [--seconds 20] [--modes model,rules]

Issue 13's yardsticks are measured in the same run, in this process before each server
starts: the same messages through ``Guard`` directly (no HTTP, no audit), one ``check`` at a
time (p50) and ``check_many`` in batches of 32 (throughput). The API at concurrency 32 is
compared with the batch throughput, its p50 at concurrency 1 with the single check.

Wall-clock ratios move with whatever else the machine runs, so each row also has the server's
CPU per check (``process_cpu_seconds_total`` from its /metrics over the level's requests), and the
ratio lines set it beside the Guard's CPU per message in ``check_many``: a figure that noise moves
far less (CPU taken by other processes is not counted; contention still costs some).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.results_md import RESULTS, write_section  # noqa: E402

TEXTS = [
    "您好，您在平台的借款已逾期3天，请尽快还款，如有困难可联系我们协商。",
    "你再不还钱就等着瞧，我知道你住哪",
    "请转告机主尽快回电，谢谢。",
    "您好，本期账单金额为1200元，还款日为本月25日。",
    "老赖，再不还钱后果自负",
    "如您对本次催收有异议，可拨打客服热线投诉。",
    "我们会依法通过诉讼途径解决，请您重视。",
    "你全家都会知道你欠钱不还的事",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


class Connection:
    """One keep-alive HTTP/1.1 connection with just enough protocol for this bench.

    The load generator shares the server's two cores, so its own CPU per request is
    CPU the server lacks; the bench reports it beside each row.
    """

    def __init__(self, host: str, port: int, key: str) -> None:
        self.host, self.port = host, port
        self.head = (f"POST /v1/check HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
                     "Content-Type: application/json\r\nContent-Length: ")
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            self.writer.write(f"{self.head}{len(body)}\r\n\r\n".encode() + body)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await self.reader.readexactly(length)
            return status
        except (OSError, asyncio.IncompleteReadError, StopIteration, ValueError):
            self.close()  # a dropped or garbled connection: the next request opens a new one
            raise ConnectionError("connection failed") from None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def level(port: int, key: str, conc: int, n: int, seconds: float) -> dict[str, float]:
    lat: list[float] = []
    errors = 0
    sent = 0
    deadline = time.perf_counter() + seconds
    conns = [Connection("127.0.0.1", port, key) for _ in range(conc)]
    for i in range(max(conc, 20)):  # warm up connections and caches
        await conns[i % conc].post(json.dumps({"text": TEXTS[i % len(TEXTS)], "dry_run": True}).encode())

    async def worker(w: int) -> None:
        nonlocal sent, errors
        while sent < n and time.perf_counter() < deadline:
            sent += 1
            body = json.dumps({"text": TEXTS[sent % len(TEXTS)] + f"（{w}）", "dry_run": True}).encode()
            t0 = time.perf_counter()
            try:
                status = await conns[w].post(body)
            except ConnectionError:  # a dropped connection is a failed request, not the end of the run
                errors += 1
                continue
            lat.append(time.perf_counter() - t0)
            if status != 200:
                errors += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(conc)))
    elapsed, client_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    for c in conns:
        c.close()
    return {"concurrency": conc, "requests": sent, "errors": errors, "p50_ms": 1000 * percentile(lat, 0.5),
            "p99_ms": 1000 * percentile(lat, 0.99), "throughput": len(lat) / elapsed, "seconds": elapsed,
            "client_cpu_ms": 1000 * client_cpu / max(1, sent)}


def server_totals(base: str) -> dict[str, tuple[float, float]]:
    """From the server's /metrics: (items, batches) so far per micro-batcher, and under "cpu"
    (process CPU seconds, /v1/check requests answered)."""
    out: dict[str, list[float]] = {"cpu": [0.0, 0.0]}
    for line in httpx.get(base + "/metrics", timeout=5).text.splitlines():
        value = line.rsplit(" ", 1)[-1]
        for suffix, k in (("_sum", 0), ("_count", 1)):
            if line.startswith(f"nlp_guard_batch_size{suffix}{{"):
                name = line.split('batcher="', 1)[1].split('"', 1)[0]
                out.setdefault(name, [0.0, 0.0])[k] = float(value)
        if line.startswith("process_cpu_seconds_total "):
            out["cpu"][0] = float(value)
        elif line.startswith("nlp_guard_http_requests_total{") and 'route="/v1/check"' in line:
            out["cpu"][1] += float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


def guard_baseline(rules_only: bool, n: int) -> dict[str, float]:
    """The load's messages through Guard in this process, as the service screens them (no rewrite)."""
    from nlp_guard import Guard, Message

    guard = Guard.default(rules_only=rules_only)
    msgs = [Message(TEXTS[k % len(TEXTS)] + f"（{k % 32}）") for k in range(n)]
    for m in msgs[:20]:
        guard.check(m.text, suggest=False)
    lat = []
    for m in msgs:
        t0 = time.perf_counter()
        guard.check(m.text, suggest=False)
        lat.append(time.perf_counter() - t0)
    cpu0, t0 = time.process_time(), time.perf_counter()
    for b in range(0, n, 32):
        guard.check_many(msgs[b:b + 32], suggest=False)
    return {"p50_ms": 1000 * percentile(lat, 0.5), "throughput": n / (time.perf_counter() - t0),
            "cpu_ms": 1000 * (time.process_time() - cpu0) / n}


def ratio_lines(results: list[tuple[str, str | None, list[dict[str, float]]]],
                baselines: dict[str, dict[str, float]]) -> list[str]:
    """Issue 13's API ratios per mode, with the absolute figures they come from."""
    out = []
    for mode, _, rows in results:
        base, by = baselines[mode], {r["concurrency"]: r for r in rows}
        if 32 in by:
            api = by[32]["throughput"]
            out.append(f"- {mode}: API at concurrency 32 / Guard `check_many` (batch 32): {api:.0f} / "
                       f"{base['throughput']:.0f} checks/s = {api / base['throughput']:.2f}× (target ≥ 0.7×)")
            cpu = by[32]["server_cpu_ms"]
            out.append(f"- {mode}: CPU per check, Guard `check_many` (batch 32) / API server at concurrency 32: "
                       f"{base['cpu_ms']:.2f} / {cpu:.2f} ms = {base['cpu_ms'] / cpu:.2f}× (what the throughput "
                       "ratio would be if both kept the cores equally busy)")
        if 1 in by:
            p50 = by[1]["p50_ms"]
            out.append(f"- {mode}: API p50 at concurrency 1 / one Guard `check`: {p50:.2f} / {base['p50_ms']:.2f} ms "
                       f"= {p50 / base['p50_ms']:.2f}× (target ≤ 1.5×)")
    return out


@contextmanager
def served(rules_only: bool, env: dict[str, str] | None = None) -> Iterator[tuple[int, str, str | None]]:
    """A real ``nlp-guard serve`` on a fresh SQLite file: (port, an API key, the model version)."""
    tmp = Path(tempfile.mkdtemp(prefix="nlp_guard_bench_"))
    db = f"sqlite:///{tmp / 'bench.db'}"
    exe = Path(sys.executable).parent / "nlp-guard"
    out = subprocess.run([str(exe), "keys", "create", "--tenant", "bench", "--database-url", db],
                         capture_output=True, text=True, check=True)
    key = out.stdout.strip().splitlines()[-1]
    port = free_port()
    env = {**os.environ, "NLP_GUARD_DATABASE_URL": db, "NLP_GUARD_RULES_ONLY": str(rules_only).lower(),
           "NLP_GUARD_LOG_LEVEL": "warning", **(env or {})}
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                r = httpx.get(base + "/readyz", timeout=2)
                if r.status_code == 200:
                    model = r.json()["model_version"]
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("server did not become ready")
            time.sleep(0.3)
        yield port, key, model
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_mode(rules_only: bool, args: argparse.Namespace) -> tuple[str | None, list[dict[str, float]]]:
    with served(rules_only) as (port, key, model):
        base = f"http://127.0.0.1:{port}"
        rows = []
        for conc in args.concurrency:
            n = args.requests if conc > 1 else max(200, args.requests // 3)
            before = server_totals(base)
            row = asyncio.run(level(port, key, conc, n, args.seconds))
            after = server_totals(base)
            for name in ("guard", "storage", "cpu"):  # per batch, or per check, in this level (warm-up included)
                (s0, c0), (s1, c1) = before.get(name, (0.0, 0.0)), after.get(name, (0.0, 0.0))
                row[f"{name}_batch"] = (s1 - s0) / max(1.0, c1 - c0)
            row["server_cpu_ms"] = 1000 * row.pop("cpu_batch")
            print(f"{'rules-only' if rules_only else 'model'} c={conc}: p50 {row['p50_ms']:.2f} ms, "
                  f"p99 {row['p99_ms']:.2f} ms, {row['throughput']:.0f} checks/s ({row['requests']} requests, "
                  f"{row['errors']} errors; CPU ms/request: server {row['server_cpu_ms']:.2f}, client "
                  f"{row['client_cpu_ms']:.2f}; mean batch: guard "
                  f"{row['guard_batch']:.1f}, storage {row['storage_batch']:.1f})", flush=True)
            rows.append(row)
        return model, rows


def write(results: list[tuple[str, str | None, list[dict[str, float]]]], note: str,
          baselines: dict[str, dict[str, float]]) -> None:
    lines = [f"`python bench/bench_api.py` on {platform.machine()}, {os.cpu_count()} CPUs, Python "
             f"{platform.python_version()}: a real `nlp-guard serve` (uvicorn, SQLite WAL, synchronous=FULL, "
             "every check audited) driven over loopback by a lean asyncio HTTP/1.1 client on the same machine, "
             "one keep-alive connection per concurrent caller (its own CPU per request is in its own column, the "
             "server's from its /metrics process_cpu_seconds_total); "
             "`dry_run` checks without rewrites (the API's default), 8 different messages, no contact metadata. "
             "\"vs rules-only\" is throughput against rules-only at the same concurrency, in the same run; the "
             "mean batch columns are items per `Guard.check_many` call and per storage transaction (group commit), "
             "from the server's /metrics.", ""]
    if note:
        lines += [note, ""]
    lines += ["| mode | model | concurrency | requests | errors | p50 ms | p99 ms | checks/s | vs rules-only "
              "| server CPU ms/request | client CPU ms/request | mean guard batch | mean storage batch |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    baseline = {r["concurrency"]: r["throughput"] for mode, _, rows in results if mode == "rules-only" for r in rows}
    for mode, model, rows in results:
        for r in rows:
            base = baseline.get(r["concurrency"])
            ratio = f"{r['throughput'] / base:.2f}×" if base else "–"
            lines.append(f"| {mode} | {model or '-'} | {r['concurrency']:.0f} | {r['requests']:.0f} | {r['errors']:.0f} "
                         f"| {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['throughput']:.0f} | {ratio} "
                         f"| {r['server_cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} | {r['guard_batch']:.1f} "
                         f"| {r['storage_batch']:.1f} |")
    ratios = ratio_lines(results, baselines)
    print("\n".join(ratios))
    lines += ["", "Issue 13 ratios (this run; Guard measured in the bench process before each server started, on "
              "the same messages, no rewrites):", "", *ratios]
    write_section("API", "\n".join(lines))
    print(f"wrote {RESULTS}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1500, help="requests per concurrency level (c=1: a third)")
    ap.add_argument("--seconds", type=float, default=20.0, help="time cap per concurrency level")
    ap.add_argument("--modes", default="model,rules", help="model, rules or both")
    ap.add_argument("--note", default="", help="a line to add under the heading")
    ap.add_argument("--concurrency", default="1,8,32", type=lambda v: [int(c) for c in v.split(",")],
                    help="concurrency levels, comma-separated")
    ap.add_argument("--guard-n", type=int, default=500, help="messages for the in-process Guard yardsticks")
    args = ap.parse_args()
    from nlp_guard.errors import ModelNotFoundError
    from nlp_guard.model import find_model_dir

    modes = args.modes.split(",")
    results = []
    baselines: dict[str, dict[str, float]] = {}
    note = args.note
    if "model" in modes:
        try:
            find_model_dir()  # before any server starts: `serve` would refuse to
        except ModelNotFoundError as exc:
            raise SystemExit(f"{exc}; run with --modes rules for the rules-only rows") from None
        baselines["model"] = guard_baseline(False, args.guard_n)
        model, rows = run_mode(False, args)
        results.append(("model", model, rows))
    if "rules" in modes:
        baselines["rules-only"] = guard_baseline(True, args.guard_n)
        _, rows = run_mode(True, args)
        results.append(("rules-only", None, rows))
    write(results, note, baselines)


if __name__ == "__main__":
    main()
