"""The shipped classifier: an int8 ONNX encoder with its own tokenizer, labels
and calibrated thresholds, loaded from local files only.

A model directory holds ``model.onnx``, ``tokenizer.json`` and ``config.json``
(labels, thresholds, max_length, version); ``metrics.json`` and ``MODEL_CARD.md``
sit beside them.
"""
from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import regex

from .classifier import LazyEvidence, Scored, Span
from .errors import ModelError, ModelNotFoundError

REQUIRED_FILES = ("model.onnx", "tokenizer.json", "config.json")
MODEL_NAME = "nlp_guard-zh"
MODEL_ENV = "NLP_GUARD_MODEL_DIR"
MODEL_PACKAGE = "nlp_guard_models"  # the top-level models/ folder, installed as package data (see setup.py)
_SOURCE_ROOT = Path(__file__).resolve().parent.parent
# onnxruntime fuses each residual Add + LayerNormalization into SkipLayerNormalization, whose CPU kernel
# measured about 5x slower here than the pair it replaces (1.3 ms vs 0.23 ms for 960x384 on 2 cores)
DISABLED_OPTIMIZERS = ["SkipLayerNormFusion"]
#: how ``training.export`` names static int8 in a config's ``quantization.int8`` (fixed activation
#: ranges: a text scores the same in any batch); ``ModelConfig.batch_invariant`` reads it
STATIC_INT8 = "static QDQ"


@dataclass(frozen=True)
class ModelConfig:
    version: str
    labels: tuple[str, ...]
    thresholds: dict[str, float]
    max_length: int
    stride: int
    layers: int
    #: a text's scores do not depend on what it is batched with (:data:`STATIC_INT8`); dynamic
    #: int8 scales activations over the batch. Scans rely on it to batch freely.
    batch_invariant: bool = False

    @classmethod
    def read(cls, path: Path) -> ModelConfig:
        try:
            raw = json.loads(path.read_text("utf-8"))
            cfg = cls(str(raw["version"]), tuple(raw["labels"]), {k: float(v) for k, v in raw["thresholds"].items()},
                      int(raw.get("max_length", 128)), int(raw.get("stride", 32)), int(raw.get("layers", 12)),
                      str((raw.get("quantization") or {}).get("int8", "")).startswith(STATIC_INT8))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{path} is not a valid model config ({type(exc).__name__}: {exc}); "
                             "it needs version, labels, thresholds") from None
        missing = set(cfg.labels) - set(cfg.thresholds)
        if missing:
            raise ModelError(f"{path}: no threshold for labels {sorted(missing)}")
        if not 0 <= cfg.stride < cfg.max_length - 2:
            raise ModelError(f"{path}: stride {cfg.stride} must be below max_length - 2")
        return cfg


def calibrate(p: float, threshold: float) -> float:
    """Map a probability so that the model's own threshold lands on 0.5."""
    if p < threshold:
        return 0.5 * p / threshold
    return 0.5 + 0.5 * (p - threshold) / (1.0 - threshold) if threshold < 1.0 else 1.0


class OnnxClassifier:
    """Batches texts, splits long ones into overlapping windows, and takes the
    strongest window per category."""

    def __init__(self, path: Path, threads: int | None = None, batch_size: int = 32) -> None:
        self.path = path
        self.config = ModelConfig.read(path / "config.json")
        self.version = self.config.version
        self.labels = self.config.labels
        self.batch_size = batch_size
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"the model needs the 'model' extra: pip install 'nlp_guard[model]' ({exc.name} missing)") from None
        try:
            self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
            raise ModelError(f"{path / 'tokenizer.json'} cannot be read: {exc}") from None
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # idle intra-op threads sleep instead of spinning: between model calls the rules, the NER
        # and (in the service) the event loop and the audit writer need those cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path / "model.onnx"), opts, providers=["CPUExecutionProvider"],
                                                disabled_optimizers=DISABLED_OPTIMIZERS)
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelError(f"{path / 'model.onnx'} cannot be loaded: {str(exc)[:200]}") from None
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.evidence_head = "token_logits" in {o.name for o in self.session.get_outputs()}
        self._lock = threading.Lock()
        self.pad_id = self.tokenizer.token_to_id("<pad>") or 0

    def _windows(self, ids: list[int]) -> list[tuple[int, list[int]]]:
        """Token windows with the special tokens kept at both ends, each with the index of
        the text's token just before its first body token (window token t is text token start + t)."""
        cls_, body, sep = ids[:1], ids[1:-1], ids[-1:]
        size = self.config.max_length - 2
        if len(body) <= size:
            return [(0, ids)]
        step = size - self.config.stride
        return [(i, cls_ + body[i:i + size] + sep) for i in range(0, max(1, len(body) - self.config.stride), step)]

    def _run(self, texts: Sequence[str], tokens: bool) -> tuple[Any, list[Any], list[Any]]:
        """Per-window-max probabilities per text and, with ``tokens``, the evidence head's
        per-token probabilities (max over windows) with the tokens' character offsets."""
        import numpy as np

        encs = self.tokenizer.encode_batch(list(texts))
        windows = [(i, start, w) for i, e in enumerate(encs) for start, w in self._windows(e.ids)]
        order = sorted(range(len(windows)), key=lambda k: len(windows[k][2]))
        probs = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        tok = [np.zeros((len(e.ids), len(self.labels)), dtype=np.float32) for e in encs] if tokens else []
        for b in range(0, len(order), self.batch_size):
            chunk = [windows[k] for k in order[b:b + self.batch_size]]
            width = max(len(w) for _, _, w in chunk)
            ids = np.full((len(chunk), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for r, (_, _, w) in enumerate(chunk):
                ids[r, :len(w)] = w
                mask[r, :len(w)] = 1
            feed: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            with self._lock:
                out = self.session.run(None, feed)
            p = 1.0 / (1.0 + np.exp(-out[0]))
            tp = 1.0 / (1.0 + np.exp(-out[1])) if tokens else None
            for r, (i, start, w) in enumerate(chunk):
                probs[i] = np.maximum(probs[i], p[r])
                if tp is not None:
                    body = slice(start + 1, start + len(w) - 1)
                    tok[i][body] = np.maximum(tok[i][body], tp[r, 1:len(w) - 1])
        return probs, tok, [e.offsets for e in encs]

    def logits(self, texts: Sequence[str]) -> list[list[float]]:
        """Raw per-window-max probabilities, uncalibrated (for training and parity checks)."""
        return self._run(texts, tokens=False)[0].tolist()

    def _calibrated(self, row: Any) -> dict[str, float]:
        th = self.config.thresholds
        return {lab: calibrate(float(p), th[lab]) for lab, p in zip(self.labels, row, strict=True)}

    def predict(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        return [self._calibrated(row) for row in self._run(texts, tokens=False)[0]]

    def predict_with_evidence(self, texts: Sequence[str]) -> list[Scored]:
        """Scores and, per category, the spans the evidence head marks: one forward pass.

        A span is a run of adjacent tokens at or above 0.5 for the category; when none
        reaches it, the single strongest token stands in, so that a flagged category
        always points at words."""
        if not self.evidence_head:
            raise ModelError(f"model {self.version} has no evidence head; use occlusion (nlp_guard.explain)")
        if not texts:
            return []
        probs, tok, offsets = self._run(texts, tokens=True)
        return [Scored(self._calibrated(row), self._evidence(text, t, off))
                for text, row, t, off in zip(texts, probs, tok, offsets, strict=True)]

    def _evidence(self, text: str, tok: Any, offsets: Sequence[tuple[int, int]]) -> LazyEvidence:
        """A text's spans per label, found when a label's are read (``LazyEvidence``)."""
        # a label's column as plain floats (exact copies of the float32 values): reading numpy
        # element by element cost more than the rest of the span search
        return LazyEvidence(self.labels, lambda lab: _spans(tok[:, self.labels.index(lab)].tolist(), offsets, text))


_WORD = regex.compile(r"[\p{Han}\p{L}\p{N}]")


def _spans(p: Sequence[float], offsets: Sequence[tuple[int, int]], text: str, on: float = 0.5) -> tuple[Span, ...]:
    """Runs of adjacent marked tokens as character spans of ``text``, strongest first."""
    marked = [k for k, x in enumerate(p) if x >= on and offsets[k][1] > offsets[k][0]]
    if not marked:
        real = [k for k, (s, e) in enumerate(offsets) if e > s and text[s:e].strip()]
        marked = [max(real, key=p.__getitem__)] if real else []
    runs: list[list[int]] = []
    for k in marked:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    spans = []
    for run in runs:
        start, end = offsets[run[0]][0], offsets[run[-1]][1]
        while start < end and not _WORD.match(text[start]):  # punctuation and quotes at the edges are not the words
            start += 1
        while end > start and not _WORD.match(text[end - 1]):
            end -= 1
        if start < end:
            spans.append(Span(start, end, float(max(p[k] for k in run))))
    return tuple(sorted(spans, key=lambda s: (-s.weight, s.start)))


def shipped_model_dirs() -> list[Path]:
    """Where the shipped model lives, in search order: the source checkout this package runs from
    (an editable install or PYTHONPATH; ``make train`` writes there), then the package data installed
    with it (a wheel). A checkout comes first so its code never runs another tree's model."""
    places = []
    if (_SOURCE_ROOT / "pyproject.toml").is_file():
        places.append(_SOURCE_ROOT / "models" / MODEL_NAME)
    try:
        data = resources.files(MODEL_PACKAGE) / MODEL_NAME
    except ModuleNotFoundError:
        data = None
    if isinstance(data, Path):  # not a zipped install: onnxruntime needs a real file
        places.append(data)
    return list(dict.fromkeys(p.resolve() for p in places))


def find_model_dir(model_dir: str | Path | None = None) -> Path:
    """The model directory to load: ``model_dir``, else ``$NLP_GUARD_MODEL_DIR``, else the shipped
    model (``shipped_model_dirs``). A directory that was named but does not exist, or no model
    anywhere, is a ModelNotFoundError: nothing falls back to rules only without being asked."""
    for named, source in ((model_dir, ""), (os.environ.get(MODEL_ENV), f" (from {MODEL_ENV})")):
        if named:
            path = Path(named).expanduser()
            if not path.is_dir():
                raise ModelNotFoundError(f"model directory {path}{source} does not exist")
            return path.resolve()
    places = shipped_model_dirs()
    for path in places:
        if path.is_dir():
            return path
    looked = ", ".join(map(str, places)) or f"no {MODEL_PACKAGE} package is installed"
    raise ModelNotFoundError(f"no model found (looked in: {looked}); name a model directory, set {MODEL_ENV}, "
                             f"or install nlp_guard with its model ('make train' writes models/{MODEL_NAME})")


def check_model_dir(path: str | Path) -> ModelConfig:
    """The config of a complete model directory, read without loading the model (a cheap start-up check)."""
    p = Path(path)
    if not p.is_dir():
        raise ModelNotFoundError(f"model directory {p} does not exist; run 'make train' or set {MODEL_ENV}")
    missing = [f for f in REQUIRED_FILES if not (p / f).is_file()]
    if missing:
        raise ModelError(f"model directory {p} is incomplete: missing {', '.join(missing)}")
    return ModelConfig.read(p / "config.json")


def load_classifier(path: str | Path, threads: int | None = None) -> OnnxClassifier:
    """Load a model directory, or explain what is missing."""
    check_model_dir(path)
    return OnnxClassifier(Path(path), threads=threads)
