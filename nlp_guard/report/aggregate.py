"""From scan results to the numbers and the review queue a QA lead reads."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batch import id_key, read_records
from ..errors import InputError
from ..policy import PolicyPack, default_policy

_RANK = {"escalate": 4, "block": 3, "flag": 1, "allow": 0}  # a customer at risk comes first


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One thing a reviewer should look at: a flagged message, a flagged agent turn, or a customer in distress."""

    queue_id: str
    record_id: Any
    turn: int | None
    speaker: str
    agent_id: str
    time: str
    channel: str
    decision: str  # block | flag | escalate (a customer signal that must reach a person)
    categories: tuple[str, ...]
    subcategories: tuple[str, ...]
    score: float
    evidence: tuple[tuple[int, int, str, str], ...]  # start, end, text, action
    citations: tuple[str, ...]
    signals: tuple[tuple[str, str, bool], ...]  # code, name, escalate (the call's customer signals)
    pii: tuple[tuple[int, int], ...]
    text: str | None

    @property
    def priority(self) -> tuple[int, float]:
        return (_RANK.get(self.decision, 0), self.score)


@dataclass
class Report:
    source: str
    records: int = 0
    errors: int = 0
    messages: int = 0
    transcripts: int = 0
    decisions: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)  # records with the category
    by_subcategory: Counter[str] = field(default_factory=Counter)
    violations: int = 0
    agents: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    trend: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    phrases: Counter[str] = field(default_factory=Counter)
    signals: Counter[str] = field(default_factory=Counter)
    queue: list[QueueItem] = field(default_factory=list)
    policy_versions: Counter[str] = field(default_factory=Counter)
    model_versions: Counter[str] = field(default_factory=Counter)
    texts_joined: bool = False
    category_names: dict[str, str] = field(default_factory=dict)
    subcategory_names: dict[str, str] = field(default_factory=dict)
    signal_names: dict[str, str] = field(default_factory=dict)

    @property
    def screened(self) -> int:
        return self.records - self.errors

    def rate(self, n: int) -> float:
        return n / self.screened if self.screened else 0.0


def load_results(path: Path) -> list[dict[str, Any]]:
    """Scan output lines (JSONL, or a Spark output folder of part files)."""
    files = sorted(path.glob("part-*")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no results found (expected a JSONL file or a folder of part-* files)")
    out = []
    for f in files:
        for n, line in enumerate(f.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{f.name} line {n}: not a scan result ({exc.msg}); pass the output of "
                                 "'nlp-guard scan'") from None
            if not isinstance(obj, dict) or "id" not in obj or not ("decision" in obj or "error" in obj):
                raise InputError(f"{f.name} line {n}: not a scan result (needs id and decision or error)")
            out.append(obj)
    return out


def load_inputs(path: Path) -> dict[str, dict[str, Any]]:
    """The scanned records by id key, so the queue can show the text around each span."""
    return {id_key(r.data.get("id", r.line)): r.data for r in read_records(path) if r.data is not None}


def _day(result: dict[str, Any]) -> str | None:
    when = result.get("sent_at") or result.get("call_time")
    return str(when)[:10] if when else None


def _ev(violations: list[dict[str, Any]]) -> tuple[tuple[int, int, str, str], ...]:
    return tuple((e["start"], e["end"], e["text"], v["action"]) for v in violations for e in v["evidence"])


def _item(res: dict[str, Any], turn: dict[str, Any] | None, text: str | None,
          signals: tuple[tuple[str, str, bool], ...]) -> QueueItem:
    src = turn if turn is not None else res
    viol = src.get("violations", [])
    decision = src["decision"] if viol or src["decision"] != "allow" else "escalate"
    cites: list[str] = []
    for v in viol:
        cites += [c for c in v["citations"] if c not in cites]
    rid = res["id"]
    return QueueItem(
        queue_id=f"{rid}#{turn['index']}" if turn is not None else str(rid), record_id=rid,
        turn=turn["index"] if turn is not None else None, speaker=turn["speaker"] if turn is not None else "agent",
        agent_id=str(res.get("agent_id") or ""), time=str(res.get("sent_at") or res.get("call_time") or ""),
        channel=str(res.get("channel") or ("call" if turn is not None else "")), decision=decision,
        categories=tuple(dict.fromkeys(v["category"] for v in viol)),
        subcategories=tuple(dict.fromkeys(v["subcategory"] for v in viol)),
        score=max((v["score"] for v in viol), default=1.0 if decision == "escalate" else 0.0),
        evidence=_ev(viol) or tuple((e["start"], e["end"], e["text"], "escalate")
                                    for s in (turn or {}).get("signals", []) for e in s["evidence"]),
        citations=tuple(cites), signals=signals,
        pii=tuple((p["start"], p["end"]) for p in src.get("pii", [])), text=text)


def aggregate(results: list[dict[str, Any]], inputs: dict[str, dict[str, Any]] | None = None,
              policy: PolicyPack | None = None, source: str = "") -> Report:
    pack = policy or default_policy()
    rep = Report(source=source, texts_joined=inputs is not None,
                 category_names={c: cat.name for c, cat in pack.categories.items()},
                 subcategory_names={s: cat.subcategories[s].name for cat in pack.categories.values()
                                    for s in cat.subcategories},
                 signal_names={c: s.name for c, s in pack.signals.items()})
    for res in results:
        rep.records += 1
        if "error" in res:
            rep.errors += 1
            continue
        rep.decisions[res["decision"]] += 1
        rep.policy_versions[res.get("policy_version") or "?"] += 1
        rep.model_versions[res.get("model_version") or "规则（无模型）"] += 1
        src = (inputs or {}).get(id_key(res["id"]), {})
        agent = str(res.get("agent_id") or "（未标注）")
        day = _day(res)
        if "turns" in res:
            rep.transcripts += 1
            violations = [v for t in res["turns"] for v in t["violations"]]
            signals = tuple(dict.fromkeys((s["code"], s["name"], s["escalate"])
                                          for t in res["turns"] for s in t["signals"]))
            turns_in = src.get("turns") if isinstance(src.get("turns"), list) else []
            for t in res["turns"]:
                text = turns_in[t["index"]].get("text") if t["index"] < len(turns_in) and \
                    isinstance(turns_in[t["index"]], dict) else None
                escalating = any(s["escalate"] for s in t["signals"])
                if t["decision"] != "allow" or (t["speaker"] == "customer" and escalating):
                    rep.queue.append(_item(res, t, text, signals))
            for code, _, _ in signals:
                rep.signals[code] += 1
        else:
            rep.messages += 1
            violations = res.get("violations", [])
            if res["decision"] != "allow":
                rep.queue.append(_item(res, None, src.get("text"), ()))
        rep.violations += len(violations)
        for cat in {v["category"] for v in violations}:
            rep.by_category[cat] += 1
        for sub in {v["subcategory"] for v in violations}:
            rep.by_subcategory[sub] += 1
        for v in violations:
            for e in v["evidence"]:
                if v["source"] != "model" and 1 <= len(e["text"]) <= 24:
                    rep.phrases[e["text"]] += 1
        a = rep.agents[agent]
        a["records"] += 1
        a[res["decision"]] += 1
        a["violations"] += len(violations)
        for cat in {v["category"] for v in violations}:
            a[f"cat:{cat}"] += 1
        if day:
            rep.trend[day]["records"] += 1
            rep.trend[day][res["decision"]] += 1
    rep.queue.sort(key=lambda q: q.priority, reverse=True)
    return rep


def mask_pii(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    """PII hidden character for character (same length, so evidence offsets still hold)."""
    chars = list(text)
    for start, end in spans:
        for i in range(max(0, start), min(end, len(chars))):
            if end - start <= 2 or start < i < end - 1:
                chars[i] = "*"
    return "".join(chars)
