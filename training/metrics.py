"""Multi-label metrics and threshold calibration (numpy only)."""
from __future__ import annotations

import numpy as np


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = float((y * pred).sum())
    p = tp / max(float(pred.sum()), 1.0)
    r = tp / max(float(y.sum()), 1.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(y.sum())}


def best_thresholds(y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Per label, the threshold with the best F1 on the given (dev) split."""
    grid = np.round(np.arange(0.10, 0.91, 0.02), 2)
    out = {}
    for j, lab in enumerate(labels):
        scores = [prf(y[:, j], (probs[:, j] >= t).astype(float))["f1"] for t in grid]
        out[lab] = float(grid[int(np.argmax(scores))])
    return out


def multilabel_report(y: np.ndarray, probs: np.ndarray, th: np.ndarray, labels: list[str]) -> dict:
    pred = (probs >= th).astype(float)
    per = {lab: prf(y[:, j], pred[:, j]) for j, lab in enumerate(labels)}
    clean = y.sum(axis=1) == 0
    fpr = float(pred[clean].any(axis=1).mean()) if clean.any() else 0.0
    return {
        "per_category": per,
        "macro": {"f1": round(float(np.mean([v["f1"] for v in per.values()])), 4),
                  "precision": round(float(np.mean([v["precision"] for v in per.values()])), 4),
                  "recall": round(float(np.mean([v["recall"] for v in per.values()])), 4)},
        "compliant_false_positive_rate": round(fpr, 4),
        "examples": int(len(y)),
    }
