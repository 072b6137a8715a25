"""``mosaiq evaluate PREDICTIONS.csv --task T``: check a submission, score it, compare.

A submission is a CSV with ``unit_id`` and one column per target of the task, one row per test
unit. It is refused, with the file, row and column of each problem, when a column is missing, a
unit is unknown or predicted twice, a test unit is missing, or a value is not a number or outside
the task's target range (for label tasks: scores in [0, 1]).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.benchmark import metrics as M
from mosaiq.benchmark.baselines import ci_note
from mosaiq.benchmark.tasks import RESULTS_DIR, get_task, task_partition
from mosaiq.errors import InputError, MosaiqError

MAX_LISTED = 5


def read_submission(path: Path, targets: list[str]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("file not found", file=path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read as CSV: {exc}", file=path) from exc
    needed = ["unit_id", *targets]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}. Expected: {needed}. Found: {list(frame.columns)}",
            file=path,
        )
    return frame


def check_submission(
    path: Path, frame: pd.DataFrame, test_ids: pd.Index, targets: list[str], lo: float, hi: float
) -> pd.DataFrame:
    problems: list[str] = []
    ids = frame["unit_id"].str.strip()
    dup = ids.duplicated(keep=False)
    for pos in np.flatnonzero(dup.to_numpy())[:MAX_LISTED]:
        problems.append(
            f"{path.name}, row {pos + 2}, column 'unit_id': {ids.iloc[pos]!r} is "
            "predicted more than once"
        )
    unknown = ~ids.isin(test_ids)
    for pos in np.flatnonzero(unknown.to_numpy())[:MAX_LISTED]:
        problems.append(
            f"{path.name}, row {pos + 2}, column 'unit_id': {ids.iloc[pos]!r} is "
            "not a test unit of this task"
        )
    absent = test_ids[~test_ids.isin(ids)]
    if len(absent):
        shown = ", ".join(map(str, absent[:MAX_LISTED]))
        problems.append(f"{path.name}: {len(absent)} test units have no prediction (e.g. {shown})")
    values = pd.DataFrame(index=frame.index)
    for col in targets:
        num = pd.to_numeric(frame[col].str.strip(), errors="coerce")
        for pos in np.flatnonzero(num.isna().to_numpy())[:MAX_LISTED]:
            problems.append(
                f"{path.name}, row {pos + 2}, column {col!r}: "
                f"{frame[col].iloc[pos]!r} is not a number"
            )
        out = num.notna() & ((num < lo) | (num > hi))
        for pos in np.flatnonzero(out.to_numpy())[:MAX_LISTED]:
            problems.append(
                f"{path.name}, row {pos + 2}, column {col!r}: {num.iloc[pos]:g} "
                f"is outside the target range [{lo:g}, {hi:g}]"
            )
        values[col] = num
    if problems:
        raise MosaiqError("the submission is not valid:\n" + "\n".join(f"- {p}" for p in problems))
    values.index = pd.Index(ids, name="unit_id")
    return values


def evaluate(
    root: Path, path: Path, task_name: str, *, bootstrap: int | None = None
) -> dict[str, Any]:
    task = get_task(root, task_name)
    _ds, units, rows = task_partition(root, task, "test")
    if units.empty:
        raise MosaiqError(f"task {task_name}: its test set is empty here (dataset not built)")
    lo, hi = task.spec["target_range"]
    frame = read_submission(path, task.targets)
    pred = check_submission(path, frame, units.index, task.targets, lo, hi).loc[units.index]
    y = units[task.targets].astype("float64")
    config = task.config
    scores = M.score(task.targets, task.spec["metrics"], y, pred, task.is_labels)
    cis = M.bootstrap(
        task.targets,
        task.spec["metrics"],
        y,
        pred,
        rows["group"],
        n=int(bootstrap or config["bootstrap"]),
        seed=int(config["seed"]),
        name=f"{task_name}/submission",
        is_labels=task.is_labels,
    )
    clusters = int(rows["group"].nunique())
    results_file = root / RESULTS_DIR / f"{task_name}.json"
    baselines = json.loads(results_file.read_text())["baselines"] if results_file.is_file() else {}
    return {
        "task": task_name,
        "n_test": len(units),
        "metrics": scores,
        "ci95": cis,
        "ci95_clusters": clusters,
        "ci95_note": ci_note(clusters) if clusters < int(config["min_clusters"]) else None,
        "baselines": {k: v.get("metrics") for k, v in baselines.items() if v.get("status") == "ok"},
    }


def table(report: dict[str, Any]) -> str:
    """The submission's metrics beside the baselines', one row per target and metric."""
    names = list(report["baselines"])
    lines = [
        f"task {report['task']}: {report['n_test']:,} test units in "
        f"{report['ci95_clusters']:,} clusters"
        + (f" (95% CI {report['ci95_note']})" if report.get("ci95_note") else ""),
        f"{'target':28} {'metric':24} {'submission':>12} {'95% CI':>22} "
        + " ".join(f"{n:>16}" for n in names),
    ]
    for target, vals in report["metrics"].items():
        for metric, v in vals.items():
            ci = report["ci95"].get(target, {}).get(metric, [None, None])
            ci_text = "–" if ci[0] is None else f"[{ci[0]:.4f}, {ci[1]:.4f}]"
            base = [report["baselines"][n].get(target, {}).get(metric) for n in names]
            lines.append(
                f"{target:28} {metric:24} {_f(v):>12} {ci_text:>22} "
                + " ".join(f"{_f(b):>16}" for b in base)
            )
    return "\n".join(lines)


def _f(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"
