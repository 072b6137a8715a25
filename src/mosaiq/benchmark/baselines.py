"""Baselines of every task, scored on its test set, seeded and byte-reproducible.

- ``label_mean``: the mean of each target over the training units;
- ``language_mean``: the training mean per questionnaire language (overall mean for a language
  not seen in training);
- ``label_prevalence``: each label's training prevalence as its score;
- ``ridge_acoustic`` / ``elastic_net_acoustic`` / ``ridge_visual``: a linear model per target on
  the acoustic indicators or the CLIP embeddings (median imputation, standardisation), its
  penalty chosen by cross-validation on the split's training folds (grouped like the split).

A baseline whose inputs are absent (e.g. ARAUS's acoustic indicators in the re-assembled copy,
or visual features before any are computed) is reported as skipped, with the reason.
Results: ``benchmark/results/<task>.json`` (read by ``dvc metrics``), predictions:
``benchmark/predictions/<task>/<baseline>.csv``, and ``benchmark/leaderboard.md``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.benchmark import metrics as M
from mosaiq.benchmark.tasks import (
    PREDICTIONS_DIR,
    RESULTS_DIR,
    Task,
    get_task,
    input_columns,
    load_tasks,
    task_partition,
    visual_matrix,
)
from mosaiq.package import write_files_atomically

ALPHAS = np.logspace(-3, 3, 13)
LEADERBOARD = Path("benchmark") / "leaderboard.md"
SUMMARY = {
    "mse": "MSE",
    "mae": "MAE",
    "r2": "R²",
    "pearson_r": "r",
    "quadrant_accuracy": "quadrant acc.",
    "macro_f1": "macro F1",
    "micro_f1": "micro F1",
    "mean_average_precision": "mAP",
}


def _linear(
    kind: str,
    X_train: pd.DataFrame,
    y_train: pd.DataFrame,
    folds: pd.Series,
    X_test: pd.DataFrame,
    seed: int,
) -> pd.DataFrame:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import ElasticNetCV, RidgeCV
    from sklearn.model_selection import PredefinedSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fold = folds.fillna(-1).astype(int).to_numpy()
    cv = PredefinedSplit(fold) if len(set(fold) - {-1}) >= 2 else 5
    preds = {}
    for target in y_train.columns:
        if kind == "elastic_net":
            model = ElasticNetCV(
                l1_ratio=[0.1, 0.5, 0.9],
                alphas=ALPHAS / 100,
                cv=cv,
                max_iter=20000,
                selection="cyclic",
                random_state=seed,
            )
        else:
            model = RidgeCV(alphas=ALPHAS, cv=cv)
        pipe = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), model
        )
        pipe.fit(X_train.to_numpy(float), y_train[target].to_numpy(float))
        preds[target] = pipe.predict(X_test.to_numpy(float))
    return pd.DataFrame(preds, index=X_test.index)


def predict(
    baseline: str, task: Task, train: dict[str, Any], test: dict[str, Any], seed: int
) -> tuple[pd.DataFrame | None, str]:
    """Test predictions of one baseline, or (None, why it does not apply)."""
    y_train, units_test = train["y"], test["units"]
    targets = task.targets
    if baseline in ("label_mean", "label_prevalence"):
        row = y_train[targets].mean()
        return pd.DataFrame(
            [row.to_numpy()] * len(units_test), index=units_test.index, columns=targets
        ), ""
    if baseline == "language_mean":
        overall = y_train[targets].mean()
        per_lang = y_train[targets].groupby(train["units"]["language"]).mean()
        rows = [
            per_lang.loc[lang] if lang in per_lang.index else overall
            for lang in units_test["language"]
        ]
        return pd.DataFrame(
            [r.to_numpy() for r in rows], index=units_test.index, columns=targets
        ), ""
    kind, _, source = baseline.partition("_")
    kind = {"ridge": "ridge", "elastic": "elastic_net"}[kind]
    source = source.replace("net_", "")
    cols_train = train["inputs"].get(source)
    cols_test = test["inputs"].get(source)
    if not cols_train or not cols_test:
        return None, f"skipped: no {source} inputs for these units"
    X_train, X_test = train["X"][source], test["X"][source]
    if X_train.notna().sum().sum() == 0:
        return None, f"skipped: the {source} inputs are empty"
    return _linear(kind, X_train, y_train[targets], train["rows"]["fold"], X_test, seed), ""


def _part(root: Path, task: Task, part: str) -> dict[str, Any]:
    ds, units, rows = task_partition(root, task, part)
    visual = (
        visual_matrix(root, ds) if task.spec.get("inputs", {}).get("visual") else pd.DataFrame()
    )
    inputs = input_columns(task, units, visual)
    X = {}
    for kind, cols in inputs.items():
        if kind == "visual":
            X[kind] = visual.reindex(units["clip_id"].astype(str)).set_axis(units.index)
        elif kind != "language":
            X[kind] = units[cols]
    return {
        "dataset": ds,
        "units": units,
        "rows": rows,
        "inputs": inputs,
        "X": X,
        "y": units[task.targets].astype("float64"),
    }


def run_task(root: Path, name: str, *, bootstrap: int | None = None) -> dict[str, Any]:
    task = get_task(root, name)
    config = task.config
    seed = int(config["seed"])
    n_boot = int(bootstrap if bootstrap is not None else config["bootstrap"])
    train, test = _part(root, task, "train"), _part(root, task, "test")
    result: dict[str, Any] = {
        "task": name,
        "tasks_version": config["version"],
        "dataset": task.spec["dataset"],
        "train_dataset": train["dataset"],
        "unit": task.spec["unit"],
        "n_train": len(train["units"]),
        "n_test": len(test["units"]),
        "n_test_groups": int(test["rows"]["group"].nunique()) if len(test["rows"]) else 0,
        "bootstrap": n_boot,
        "baselines": {},
    }
    predictions: dict[str, pd.DataFrame] = {}
    if result["n_train"] == 0 or result["n_test"] == 0:
        result["status"] = "skipped: the dataset is not built here"
        return {"result": result, "predictions": predictions}
    result["status"] = "ok"
    for baseline in task.spec["baselines"]:
        pred, why = predict(baseline, task, train, test, seed)
        if pred is None:
            result["baselines"][baseline] = {"status": why}
            continue
        lo, hi = task.spec["target_range"]
        pred = pred.clip(lo, hi).round(M.DECIMALS)
        scores = M.score(task.targets, task.spec["metrics"], test["y"], pred, task.is_labels)
        cis = M.bootstrap(
            task.targets,
            task.spec["metrics"],
            test["y"],
            pred,
            test["rows"]["group"],
            n=n_boot,
            seed=seed,
            name=f"{name}/{baseline}",
            is_labels=task.is_labels,
        )
        entry = {"status": "ok", "metrics": scores, "ci95": cis, "summary": _summary(scores)}
        result["baselines"][baseline] = entry
        predictions[baseline] = pred
    return {"result": result, "predictions": predictions}


def _summary(scores: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Each metric averaged over the targets (the leaderboard's numbers)."""
    collected: dict[str, list[float]] = {}
    for vals in scores.values():
        for metric, v in vals.items():
            if v is not None:
                collected.setdefault(metric, []).append(v)
    return {m: M._r(float(np.mean(v))) for m, v in collected.items()}


def run_all(
    root: Path, *, bootstrap: int | None = None, tasks: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    config = load_tasks(root)
    names = tasks or list(config["tasks"])
    started = time.perf_counter()
    files: dict[Path, bytes] = {}
    results = {}
    for name in names:
        out = run_task(root, name, bootstrap=bootstrap)
        results[name] = out["result"]
        files[root / RESULTS_DIR / f"{name}.json"] = (
            json.dumps(out["result"], indent=2, sort_keys=True) + "\n"
        ).encode()
        for baseline, pred in out["predictions"].items():
            frame = pred.reset_index().rename(columns={"index": "unit_id"})
            files[root / PREDICTIONS_DIR / name / f"{baseline}.csv"] = frame.to_csv(
                index=False, lineterminator="\n"
            ).encode()
    if tasks is None:
        files[root / LEADERBOARD] = leaderboard(results).encode()
    write_files_atomically(files)
    for r in results.values():
        r["_seconds"] = time.perf_counter() - started
    return results


def leaderboard(results: dict[str, dict[str, Any]]) -> str:
    """A markdown table of every task and baseline (metrics averaged over targets)."""
    lines = [
        "| task | test units | baseline | "
        + " | ".join(["MSE", "MAE", "R²", "r", "quadrant acc. / mAP"])
        + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        if r.get("status") != "ok":
            lines.append(f"| {name} | – | – | {r.get('status')} | | | | |")
            continue
        for baseline, b in r["baselines"].items():
            if b.get("status") != "ok":
                lines.append(f"| {name} | {r['n_test']:,} | {baseline} | {b['status']} | | | | |")
                continue
            s = b["summary"]
            last = s.get("quadrant_accuracy", s.get("mean_average_precision"))
            cells = [
                _fmt(s.get("mse")),
                _fmt(s.get("mae")),
                _fmt(s.get("r2")),
                _fmt(s.get("pearson_r")),
                _fmt(last),
            ]
            if r["baselines"][baseline]["metrics"].get("all"):
                s2 = b["metrics"]["all"]
                cells = [
                    "–",
                    "–",
                    f"macro F1 {_fmt(s2.get('macro_f1'))}",
                    f"micro F1 {_fmt(s2.get('micro_f1'))}",
                    _fmt(s2.get("mean_average_precision")),
                ]
            lines.append(f"| {name} | {r['n_test']:,} | {baseline} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v: float | None) -> str:
    return "–" if v is None else f"{v:.4f}"


README_START = "<!-- leaderboard:start -->"
README_END = "<!-- leaderboard:end -->"


def update_readme(root: Path) -> bool:
    """Put benchmark/leaderboard.md between the README's leaderboard markers."""
    readme = root / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    board = (root / LEADERBOARD).read_text()
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_START}\n{board}{README_END}{tail}"
    if new != text:
        readme.write_text(new)
    return True
