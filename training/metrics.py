"""Multi-label metrics and threshold calibration (numpy only)."""
from __future__ import annotations

import numpy as np


def prf(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = float((y * pred).sum())
    p = tp / max(float(pred.sum()), 1.0)
    r = tp / max(float(y.sum()), 1.0)
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "support": int(y.sum())}


PLATEAU = 0.005


def best_thresholds(y: np.ndarray, probs: np.ndarray, labels: list[str], plateau: float = PLATEAU) -> dict[str, float]:
    """Per label, a threshold on the (dev) split's best-F1 plateau: of the grid
    points within ``plateau`` F1 of the best, the one nearest 0.5. The argmax of
    a flat curve is set by a handful of dev examples; the plateau point nearest
    the training objective's own boundary carries over to new text better."""
    grid = np.round(np.arange(0.10, 0.91, 0.02), 2)
    out = {}
    for j, lab in enumerate(labels):
        scores = np.array([prf(y[:, j], (probs[:, j] >= t).astype(float))["f1"] for t in grid])
        near_best = grid[scores >= scores.max() - plateau]
        out[lab] = float(near_best[np.argmin(np.abs(near_best - 0.5))])
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


def thresholds_within_fpr(y: np.ndarray, probs: np.ndarray, labels: list[str], start: dict[str, float],
                          max_fpr: float, fixed: np.ndarray | None = None) -> dict[str, float]:
    """``start`` raised, step by step, until the share of compliant rows with any label at or
    above its threshold is at most ``max_fpr``. A step raises one label to the lowest grid
    point that clears at least one more compliant row; of the labels' steps, the one that
    keeps the most macro-F1 is taken. Where no step clears a row, the thresholds reached are
    returned (the rate is then reported as it is).
    ``fixed`` (rows × labels, bool) marks what fires whatever the thresholds, the policy's rules
    beside the model: a compliant row a rule flags costs the cap all the same and no threshold
    clears it, and a rule's hit counts towards its label's F1.
    The ship rule caps the false-positive rate; a calibration that ignores the cap ships a
    model that fails it for want of a threshold."""
    grid = np.round(np.arange(0.10, 0.96, 0.02), 2)
    clean = y.sum(axis=1) == 0
    always = np.zeros(probs.shape, bool) if fixed is None else fixed.astype(bool)
    th = dict(start)

    def fired(t: dict[str, float]) -> np.ndarray:
        return (probs >= np.array([t[lab] for lab in labels])) | always

    def fp_rows(t: dict[str, float]) -> int:
        return int(fired(t)[clean].any(axis=1).sum())

    def macro(t: dict[str, float]) -> float:
        pred = fired(t).astype(float)
        return float(np.mean([prf(y[:, j], pred[:, j])["f1"] for j in range(len(labels))]))

    while clean.any() and fp_rows(th) / clean.sum() > max_fpr:
        now = fp_rows(th)
        steps = []
        for lab in labels:
            for t in grid[grid > th[lab] + 1e-9]:
                if fp_rows(raised := {**th, lab: float(t)}) < now:
                    steps.append(raised)
                    break
        if not steps:
            break
        th = max(steps, key=macro)
    return th
