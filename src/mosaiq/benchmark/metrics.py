"""Metrics, with bootstrap confidence intervals that resample the split's groups.

Regression (per target): MSE, RMSE, MAE, R², Pearson r; on the ISO plane, quadrant accuracy
(both coordinates on the right side of 0). Labels: macro and micro F1 (scores >= 0.5), mean
average precision over the labels that occur in the test set. Intervals: 2.5th and 97.5th
percentiles over resamples of the test set's groups (ISD locations, SATP recordings, ...) drawn
with replacement, so that correlated units are resampled together.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

DECIMALS = 10
ISO_PAIRS = (
    ("mean_ISOPleasant", "mean_ISOEventful"),
    ("mean_ISOPleasant_lang", "mean_ISOEventful_lang"),
)


def _r(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), DECIMALS)


def regression(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    err = p - y
    mse = float(np.mean(err**2))
    var = float(np.var(y))
    # r is undefined for a constant prediction (e.g. a training-label mean)
    r = float(np.corrcoef(y, p)[0, 1]) if np.ptp(p) > 0 and np.ptp(y) > 0 else float("nan")
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": float(np.mean(np.abs(err))),
        "r2": 1 - mse / var if var > 0 else float("nan"),
        "pearson_r": r,
    }


def quadrant_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """Share of units whose predicted (P, E) is in the observed quadrant (0 counts as +)."""
    return float(np.mean(np.all((y >= 0) == (p >= 0), axis=1)))


def labels(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, f1_score

    pred = (scores >= 0.5).astype(int)
    present = y.sum(axis=0) > 0
    ap = [average_precision_score(y[:, j], scores[:, j]) for j in np.flatnonzero(present)]
    return {
        "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        "micro_f1": float(f1_score(y, pred, average="micro", zero_division=0)),
        "mean_average_precision": float(np.mean(ap)) if ap else float("nan"),
    }


def score(
    task_targets: list[str],
    metrics: list[str],
    y: pd.DataFrame,
    p: pd.DataFrame,
    is_labels: bool = False,
) -> dict[str, dict[str, float | None]]:
    """Metrics per target (and ``all`` for label sets and quadrant accuracy)."""
    out: dict[str, dict[str, float | None]] = {}
    yv, pv = y[task_targets].to_numpy(float), p[task_targets].to_numpy(float)
    if is_labels:
        out["all"] = {k: _r(v) for k, v in labels(yv.astype(int), pv).items() if k in metrics}
        return out
    for j, t in enumerate(task_targets):
        vals = regression(yv[:, j], pv[:, j])
        out[t] = {k: _r(v) for k, v in vals.items() if k in metrics}
    if "quadrant_accuracy" in metrics:
        for a, b in ISO_PAIRS:
            if a in task_targets and b in task_targets:
                cols = [task_targets.index(a), task_targets.index(b)]
                out.setdefault("iso_plane" if a == "mean_ISOPleasant" else "iso_plane_lang", {})[
                    "quadrant_accuracy"
                ] = _r(quadrant_accuracy(yv[:, cols], pv[:, cols]))
    return out


def bootstrap(
    task_targets: list[str],
    metrics: list[str],
    y: pd.DataFrame,
    p: pd.DataFrame,
    groups: pd.Series,
    *,
    n: int,
    seed: int,
    name: str,
    is_labels: bool = False,
) -> dict[str, dict[str, list[float | None]]]:
    """95 % intervals of every metric, resampling groups with replacement."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    codes, uniques = pd.factorize(groups.to_numpy())
    members = [np.flatnonzero(codes == g) for g in range(len(uniques))]
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(n):
        pick = rng.integers(0, len(members), size=len(members))
        idx = np.concatenate([members[g] for g in pick])
        res = score(task_targets, metrics, y.iloc[idx], p.iloc[idx], is_labels)
        for target, vals in res.items():
            for metric, v in vals.items():
                samples.setdefault((target, metric), []).append(np.nan if v is None else v)
    out: dict[str, dict[str, list[float | None]]] = {}
    for (target, metric), drawn in samples.items():
        arr = np.asarray(drawn, dtype=float)
        arr = arr[np.isfinite(arr)]
        ci: list[float | None] = (
            [_r(np.percentile(arr, 2.5)), _r(np.percentile(arr, 97.5))]
            if arr.size
            else [None, None]
        )
        out.setdefault(target, {})[metric] = ci
    return out
