"""The trained Chinese NER pipeline (PER, ORG, LOC) behind the name recognizers.

The spaCy pipeline in ``models/nlp_guard-ner`` (``make train-ner``) is loaded once per process, on
the first text that needs it. When it cannot be loaded (not trained, spaCy not installed, or switched
off with ``NLP_GUARD_NER=off``) the recognizers still run their anchored patterns, log the reason once,
and write it into the explanation of every finding, so a missed name is never silent.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import regex

from nlp_guard.finding import Finding

log = logging.getLogger(__name__)

DEFAULT_NER_DIR = Path(__file__).resolve().parents[2] / "models" / "nlp_guard-ner"
#: Texts whose entities are remembered; the person and organisation recognizers share one NER run.
CACHE_SIZE = 2048


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity the NER found, with offsets into the text it was given."""

    start: int
    end: int
    label: str


class NerModel:
    """A loaded spaCy pipeline whose results are cached per text.

    Long texts are cut into chunks at sentence ends and run with a time budget, like the
    recognizers' regex timeout: one 100,000-character paste must not stall the pipeline.
    """

    #: Characters per chunk; a sentence longer than this is cut.
    CHUNK: int = 500
    #: Seconds one text may spend in the NER; chunks after that are skipped (and logged).
    TIMEOUT: float = 1.0

    def __init__(self, nlp: Any, version: str) -> None:
        self.nlp = nlp
        self.version = version
        self._cache: OrderedDict[str, tuple[Entity, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def _remember(self, text: str, ents: tuple[Entity, ...]) -> None:
        with self._lock:
            self._cache[text] = ents
            self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)

    def clear(self) -> None:
        """Forget cached results (benchmarks time the pipeline, not the cache)."""
        with self._lock:
            self._cache.clear()

    def entities(self, text: str) -> tuple[Entity, ...]:
        """Entities in ``text``; offsets are character offsets into ``text``."""
        with self._lock:
            hit = self._cache.get(text)
        if hit is None:
            hit = self._run(text) if len(text) > self.CHUNK else _entities(self.nlp(text))
            self._remember(text, hit)
        return hit

    def _run(self, text: str) -> tuple[Entity, ...]:
        chunks = _chunks(text, self.CHUNK)
        deadline = time.monotonic() + self.TIMEOUT
        out: list[Entity] = []
        # small batches: spaCy runs a whole batch before yielding its first doc, and the deadline is checked per doc
        docs = self.nlp.pipe((c for _, c in chunks), batch_size=8)
        for n, (offset, doc) in enumerate(zip((o for o, _ in chunks), docs, strict=False)):
            out += [Entity(e.start + offset, e.end + offset, e.label) for e in _entities(doc)]
            if time.monotonic() > deadline and n + 1 < len(chunks):
                log.warning("NER stopped after %.1fs at character %d of %d; names after it come from anchored "
                            "patterns only", self.TIMEOUT, offset + len(chunks[n][1]), len(text))
                break
        return tuple(out)

    def prefetch(self, texts: Iterable[str]) -> None:
        """Run many short texts through the pipeline as one batch and cache the results."""
        with self._lock:
            todo = [t for t in dict.fromkeys(texts) if t not in self._cache and len(t) <= self.CHUNK]
        if not todo:  # all remembered: setting up spaCy's pipe costs about a millisecond even for nothing
            return
        for text, doc in zip(todo, self.nlp.pipe(todo, batch_size=64), strict=True):
            self._remember(text, _entities(doc))


_SENTENCE_END = regex.compile(r"(?<=[。！？!?；;\n])")


def _chunks(text: str, size: int) -> list[tuple[int, str]]:
    """(offset, piece) pairs covering ``text``: whole sentences packed up to ``size`` characters."""
    out: list[tuple[int, str]] = []
    start = 0
    pos = 0
    for piece in _SENTENCE_END.split(text):
        while len(piece) > size:  # one very long sentence: cut it
            if pos > start:
                out.append((start, text[start:pos]))
            out.append((pos, piece[:size]))
            pos += size
            start = pos
            piece = piece[size:]
        if pos + len(piece) - start > size and pos > start:
            out.append((start, text[start:pos]))
            start = pos
        pos += len(piece)
    if pos > start:
        out.append((start, text[start:pos]))
    return out


def _entities(doc: Any) -> tuple[Entity, ...]:
    return tuple(Entity(e.start_char, e.end_char, e.label_) for e in doc.ents)


class _State:
    """The process-wide model, or why there is none."""

    lock = threading.Lock()
    loaded: NerModel | None = None
    reason: str | None = None
    warned = False
    enabled = os.environ.get("NLP_GUARD_NER", "on").lower() not in {"0", "off", "false", "no"}


def ner_dir() -> Path:
    """Where the pipeline is loaded from (``NLP_GUARD_NER_DIR`` overrides the shipped path)."""
    return Path(os.environ.get("NLP_GUARD_NER_DIR") or DEFAULT_NER_DIR)


def load_ner(path: Path) -> NerModel:
    """Load a trained pipeline from ``path``; errors name the path and the fix."""
    if not (path / "meta.json").exists():
        raise FileNotFoundError(f"no NER pipeline at {path}; build it with `make train-ner`")
    try:
        import spacy
    except ImportError as exc:
        raise ImportError("spaCy is not installed; install the model extra: pip install -e '.[model]'") from exc
    meta = json.loads((path / "meta.json").read_text("utf-8"))
    nlp = spacy.load(path)
    use_numpy_products(nlp)
    return NerModel(nlp, f"nlp_guard-ner-{meta.get('version', '?')}")


def use_numpy_products(nlp: Any) -> None:
    """Give every layer of the pipeline numpy's matrix product, on one BLAS thread.

    thinc's ``NumpyOps`` multiplies with blis; with ``use_blis=False`` it calls numpy's ``dot``
    (OpenBLAS). At the NER's shapes (a batch's characters x 480 -> 288, float32) OpenBLAS ran 2.9x
    faster on one core of the development machine, the NER as a whole 1.8x, with the same entities
    on 1,200 dev lines. OpenBLAS is held to one thread for the whole process: the NER already runs on
    its own thread beside ONNX Runtime, and OpenBLAS's extra workers fought both for the two cores
    (Guard throughput with the NER fell to 0.62x of without it; one thread: 0.83x).
    """
    from thinc.api import NumpyOps

    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # OpenBLAS's threads cannot be held to one: blis (slower alone) is faster here
        log.info("threadpoolctl not installed; the NER keeps thinc's blis products")
        return
    threadpool_limits(1, user_api="blas")
    set_ops(nlp, NumpyOps(use_blis=False))


def set_ops(nlp: Any, ops: Any) -> None:
    """Run every layer of the pipeline's components on ``ops`` (thinc keeps one per layer)."""
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None:
            for node in model.walk():
                node.ops = ops


def get_ner() -> NerModel | None:
    """The shared pipeline, loaded on first use; None (with :func:`ner_status` saying why) when unavailable."""
    if not _State.enabled:
        return None
    if _State.loaded is None and _State.reason is None:
        with _State.lock:
            if _State.loaded is None and _State.reason is None:
                try:
                    _State.loaded = load_ner(ner_dir())
                except (OSError, ImportError, ValueError) as exc:
                    _State.reason = str(exc)
    if _State.loaded is None and not _State.warned:
        _State.warned = True
        log.warning("person/organisation names: NER unavailable (%s); anchored patterns only", _State.reason)
    return _State.loaded


def ner_status() -> str:
    """The loaded model's version, or why names are found by anchored patterns only."""
    if not _State.enabled:
        return "NER switched off (NLP_GUARD_NER=off)"
    model = get_ner()
    return model.version if model is not None else f"NER unavailable: {_State.reason}"


def set_enabled(enabled: bool) -> None:
    """Switch the NER on or off for this process (benchmarks compare both in one run)."""
    _State.enabled = enabled


def prefetch(texts: Sequence[str]) -> None:
    """Batch the NER over texts that are about to be analysed (a no-op without a model)."""
    model = get_ner()
    if model is not None and texts:
        model.prefetch(texts)


class _Beside:
    """One thread per process that runs the NER while the caller's thread runs the classifier:
    both spend their time in native code that lets go of the GIL (spaCy's matrix products,
    ONNX Runtime), so on two cores the second runs in the first one's idle time. Made again
    after a fork (scan workers), whose child has no copy of the parent's threads."""

    pid: int | None = None
    pool: ThreadPoolExecutor | None = None
    lock = threading.Lock()

    @classmethod
    def submit(cls, texts: Sequence[str]) -> Future[None]:
        with cls.lock:
            if cls.pool is None or cls.pid != os.getpid():
                cls.pool, cls.pid = ThreadPoolExecutor(1, thread_name_prefix="nlp_guard-ner"), os.getpid()
            return cls.pool.submit(prefetch, texts)


def prefetch_beside(texts: Sequence[str]) -> Future[None]:
    """:func:`prefetch` on the NER's own thread; the caller waits on the future before it
    analyses the texts (a failure there is raised by ``result()``, as if run in line)."""
    return _Beside.submit(texts)


def merge_with_ner(text: str, anchored: list[Finding], entities: Sequence[Entity], *, label: str,
                   score: float, agree_boost: float, context: Any) -> list[Finding]:
    """NER spans as findings, with the anchored patterns as a boost rather than a gate.

    An entity that overlaps an anchored match takes the higher score plus ``agree_boost``; an
    anchored match the NER missed is kept as it was; ``context`` (the recognizer) adds its usual
    context-word boost to NER-only spans. The NER often clips a name ("柯世" of "柯世腾是"): an
    anchored match that covers the entity and ends where ``context.name_ends_at`` says a name can
    end gives the finding its extent.
    """
    out: list[Finding] = []
    used: set[int] = set()
    for ent in entities:
        overlapping = [i for i, f in enumerate(anchored) if f.start < ent.end and ent.start < f.end]
        notes = [f"NER {ent.label} {text[ent.start:ent.end]!r}"]
        s, start, end = score, ent.start, ent.end
        if overlapping:
            used.update(overlapping)
            best = max((anchored[i] for i in overlapping), key=lambda f: f.score)
            s = max(s, best.score) + agree_boost
            notes.append(f"anchored pattern agrees +{agree_boost:g} ({best.explanation})")
            covering = [anchored[i] for i in overlapping if anchored[i].start <= ent.start
                        and ent.end <= anchored[i].end and context.name_ends_at(text, anchored[i].end)]
            if covering:
                wide = max(covering, key=lambda f: f.end - f.start)
                if (wide.start, wide.end) != (start, end):
                    start, end = wide.start, wide.end
                    notes.append(f"extent {text[start:end]!r} from the anchored pattern")
        else:
            word = context.context_word(text, ent.start, ent.end)
            if word is not None:
                s += context.CONTEXT_BOOST
                notes.append(f"context {word} +{context.CONTEXT_BOOST:g}")
        out.append(Finding(label, start, end, round(min(1.0, s), 4), "pii", context.name, "; ".join(notes)))
    out += [replace(f, explanation=f"{f.explanation}; NER did not find it")
            for i, f in enumerate(anchored) if i not in used]
    out.sort(key=lambda f: (f.start, -f.end))
    return out


def without_ner(findings: list[Finding]) -> list[Finding]:
    """Anchored findings annotated with why the NER did not run."""
    note = ner_status()
    return [replace(f, explanation=f"{f.explanation}; {note}; anchored patterns only") for f in findings]
