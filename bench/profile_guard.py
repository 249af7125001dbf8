"""Where Guard's time goes around the model: CPU time per stage of ``check_many`` on bench_guard's mixed sample.

    .venv/bin/python bench/profile_guard.py [--n 400] [--reps 5] [--cold-ner] [--cprofile 25]

Issue 13 asks Guard (rules + model + evidence, no rewrites) for at least 0.8x the model alone's
throughput. Wall-clock throughput on a shared 2-core machine swings with the neighbours; CPU time
per stage does much less, so this measures that, single-threaded (``threads=1``: the model's
intra-op threads would otherwise spin-wait and bill their waiting as CPU). The sample, batches of
32 and the NER state (remembered, as in bench_guard's throughput run after its latency loops;
``--cold-ner`` forgets it before every pass) follow bench_guard. Per stage: the least CPU of
``--reps`` passes; "model forward" is ONNX Runtime's ``run`` alone, "everything else" the whole
``check_many`` minus it, beside the model alone (``predict``) on the same normalised texts.
Writes nothing to RESULTS.md.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nlp_guard.guard as guard_module  # noqa: E402
from bench.bench_guard import mixed_sample  # noqa: E402
from nlp_guard import Guard, Message  # noqa: E402
from nlp_guard.normalize import normalize  # noqa: E402
from nlp_guard.pii.ner import get_ner, prefetch  # noqa: E402


class Stages:
    """CPU seconds per named stage, from wrappers put around the pipeline's functions."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.cpu[stage] += time.process_time() - t0
        setattr(owner, name, timed)


class _TimedSession:
    """An ONNX Runtime session whose ``run`` bills its CPU time to the model-forward stage."""

    def __init__(self, session: Any, stages: Stages) -> None:
        self._session = session
        stages.wrap(self, "run", "model forward (ONNX Runtime run)")

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return self._session.run(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


def _in_line(texts: list[str]) -> Future[None]:
    """``prefetch_beside`` run on the caller's thread: the NER's own thread would bill its CPU
    to whichever stage the caller is in."""
    done: Future[None] = Future()
    prefetch(texts)
    done.set_result(None)
    return done


def least(fn: Callable[[], None], stages: Stages, reps: int, before: Callable[[], None]) -> dict[str, float]:
    """Per stage, the least CPU seconds over ``reps`` passes of ``fn``."""
    best: dict[str, float] = {}
    for _ in range(reps):
        before()
        stages.cpu.clear()
        t0 = time.process_time()
        fn()
        stages.cpu["total"] = time.process_time() - t0
        best = {k: min(v, best.get(k, v)) for k, v in stages.cpu.items()}
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--cold-ner", action="store_true", help="forget the NER's remembered texts before every pass")
    ap.add_argument("--cprofile", type=int, default=0, metavar="N", help="also print cProfile's N costliest functions")
    args = ap.parse_args()
    _, rows = mixed_sample(args.n)
    msgs = [Message(r["text"]) for r in rows]
    guard = Guard.default(threads=1)
    clf = guard.classifier
    stages = Stages()
    clf.session = _TimedSession(clf.session, stages)
    stages.wrap(guard_module, "normalize", "normalize")
    stages.wrap(guard_module, "score_views", "classifier views (incl. model forward)")
    guard_module.prefetch_beside = _in_line  # one thread, so that process CPU splits cleanly into stages
    stages.wrap(guard_module, "prefetch_beside", "NER over the batch (in line here; the Guard runs it beside)")
    stages.wrap(guard_module, "analyze", "PII recognizers (NER remembered)")
    stages.wrap(guard.rules, "match", "rules")
    stages.wrap(guard, "_decide", "evidence + policy engine")

    def screen() -> None:
        for b in range(0, len(msgs), 32):
            guard.check_many(msgs[b:b + 32], suggest=False)

    ner = get_ner()
    forget = ner.clear if args.cold_ner and ner is not None else (lambda: None)
    screen()  # loads everything, remembers the NER's texts
    guard_cpu = least(screen, stages, args.reps, forget)
    norm = [normalize(m.text).text for m in msgs]
    model_cpu = least(lambda: [clf.predict(norm[b:b + 32]) for b in range(0, len(norm), 32)], stages, args.reps,
                      lambda: None)
    forward = guard_cpu.get("model forward (ONNX Runtime run)", 0.0)
    print(f"Command: `.venv/bin/python bench/profile_guard.py {' '.join(sys.argv[1:])}`; model {clf.version}; "
          f"{len(msgs)} mixed test-split agent messages (seed 7), batches of 32, threads=1, NER "
          f"{'cold' if args.cold_ner else 'remembered'}; least CPU of {args.reps} passes, ms per message.\n")
    print("| stage | CPU ms/message |\n|---|---:|")
    for stage, sec in sorted(guard_cpu.items(), key=lambda kv: -kv[1]):
        print(f"| {stage} | {1000 * sec / len(msgs):.3f} |")
    print(f"| everything else than the model forward | {1000 * (guard_cpu['total'] - forward) / len(msgs):.3f} |")
    print(f"| model alone: predict on the normalised texts (total) | {1000 * model_cpu['total'] / len(msgs):.3f} |")
    print(f"| model alone: of it, the model forward | "
          f"{1000 * model_cpu.get('model forward (ONNX Runtime run)', 0.0) / len(msgs):.3f} |")
    if args.cprofile:
        forget()
        prof = cProfile.Profile()
        prof.runcall(screen)
        pstats.Stats(prof).sort_stats("tottime").print_stats(args.cprofile)


if __name__ == "__main__":
    main()
