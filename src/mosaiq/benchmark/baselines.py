"""Baselines of every task, scored on its test set, seeded and byte-reproducible.

- ``label_mean``: the mean of each target over the training units;
- ``language_mean``: the training mean per questionnaire language (overall mean for a language
  not seen in training);
- ``label_prevalence``: each label's training prevalence as its score;
- ``ridge_acoustic`` / ``elastic_net_acoustic`` / ``ridge_visual``: a linear model per target on
  the published acoustic indicators or the CLIP embeddings (median imputation, standardisation),
  its penalty chosen by cross-validation on the split's training folds (grouped like the split);
  ``ridge_indicators`` / ``elastic_net_indicators`` / ``ridge_audio`` the same on the acoustic
  indicators computed from the audio and on the CLAP embeddings (``needs media`` while the
  dataset's recordings are not present).

A baseline whose inputs are absent (e.g. ARAUS's acoustic indicators in the re-assembled copy,
or visual features before any are computed) is reported as skipped, with the reason.
Results: ``benchmark/results/<task>.json``; ``dvc metrics`` reads the small
``benchmark/metrics/<task>.json`` (headline per baseline; per target in
``benchmark/metrics_by_target``), predictions:
``benchmark/predictions/<task>/<baseline>.csv``, and ``benchmark/leaderboard.md``. Every task's
predictions folder holds a small index (``README.md``), so that the folder of a task whose
dataset is not built here is not empty: ``dvc.yaml`` declares each folder as an output, committed
or kept in the DVC cache by the licence policy (README, "What is committed").
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
    MEDIA_INPUTS,
    PREDICTIONS_DIR,
    RESULTS_DIR,
    UNIT_SEP,
    Task,
    feature_inputs,
    get_task,
    input_columns,
    leakage,
    load_tasks,
    task_partition,
)
from mosaiq.package import write_files_atomically

ALPHAS = np.logspace(-3, 3, 13)
EDGE_STEP = 3  # decades added to a grid whose chosen value sits on its edge
EDGE_LIMIT = 9  # ... up to 1e-9 .. 1e9
LEADERBOARD = Path("benchmark") / "leaderboard.md"
PREDICTIONS_INDEX = "README.md"


def predictions_index_text(task: str) -> str:
    """The index of ``benchmark/predictions/<task>/`` (no prediction in it)."""
    return (
        f"# Predictions of the task `{task}`\n\n"
        "One CSV per baseline (`<baseline>.csv`): `unit_id` and the predicted targets for each\n"
        "test unit, written by `mosaiq baselines`; the scores are in\n"
        f"`../../results/{task}.json`. This index is not a prediction: it keeps the folder (a DVC\n"
        "output) from being empty.\n"
    )


METRICS_DIR = Path("benchmark") / "metrics"
TARGET_METRICS_DIR = Path("benchmark") / "metrics_by_target"
# the headline metric of a target: the first of these it has
HEADLINE = ("rmse", "mean_average_precision", "quadrant_accuracy", "macro_f1")


def task_headline(result: dict[str, Any]) -> dict[str, str | float | None]:
    """The task's row of `dvc metrics show` (benchmark/metrics/<task>.json): the name of its
    headline metric and, per scored baseline, that metric averaged over the task's targets (the
    leaderboard's summary). Only baselines go beside ``metric``, so that the table of every task
    stays a few columns wide; per target it is in :func:`headline`, the rest in the results."""
    scored = {
        b: entry["summary"]
        for b, entry in sorted((result.get("baselines") or {}).items())
        if entry.get("metrics") and entry.get("summary")
    }
    metric = next((m for m in HEADLINE if any(m in s for s in scored.values())), None)
    if metric is None:
        return {}
    return {"metric": metric, **{b: s.get(metric) for b, s in scored.items()}}


def headline(result: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """A task's flat metrics per baseline and target (benchmark/metrics_by_target/<task>.json,
    for `dvc metrics show/diff` of one task): the headline metric of each target (named in the
    key); the details stay in benchmark/results. A baseline without scores (e.g. "needs media")
    has no row."""
    out: dict[str, dict[str, float | None]] = {}
    for baseline, entry in sorted((result.get("baselines") or {}).items()):
        if not entry.get("metrics"):
            continue
        row: dict[str, float | None] = {}
        for target, values in sorted((entry.get("metrics") or {}).items()):
            metric = next((m for m in HEADLINE if m in values), None)
            if metric is not None:
                row[f"{target.removeprefix('mean_')}_{metric}"] = values[metric]
        out[baseline] = row
    return out


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


def _search(kind: str, cv: Any, alphas: np.ndarray, seed: int) -> Any:
    """Imputation, scaling and the model in one pipeline, its penalty searched by CV: each
    cross-validation fold fits its own imputer and scaler on its own training part."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import ElasticNet, Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "elastic_net":
        model: Any = ElasticNet(max_iter=20000, selection="cyclic", random_state=seed)
        grid = {"model__alpha": list(alphas / 100), "model__l1_ratio": [0.1, 0.5, 0.9]}
    else:
        model = Ridge()
        grid = {"model__alpha": list(alphas)}
    pipe = Pipeline(
        [
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("model", model),
        ]
    )
    return GridSearchCV(pipe, grid, cv=cv, scoring="neg_mean_squared_error", refit=True)


def _linear(
    kind: str,
    X_train: pd.DataFrame,
    y_train: pd.DataFrame,
    folds: pd.Series,
    X_test: pd.DataFrame,
    seed: int,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Test predictions of a linear model per target, and the penalty chosen for each (with the
    grid it was chosen from: a grid whose choice sits on its edge is widened and searched again)."""
    from sklearn.model_selection import PredefinedSplit

    fold = folds.fillna(-1).astype(int).to_numpy()
    cv = PredefinedSplit(fold) if len(set(fold) - {-1}) >= 2 else 5
    preds, chosen = {}, {}
    X, Xt = X_train.to_numpy(float), X_test.to_numpy(float)
    for target in y_train.columns:
        y = y_train[target].to_numpy(float)
        lo, hi = -3, 3
        while True:
            alphas = np.logspace(lo, hi, (hi - lo) * 2 + 1)
            search = _search(kind, cv, alphas, seed).fit(X, y)
            alpha = float(search.best_params_["model__alpha"])
            alpha = alpha * 100 if kind == "elastic_net" else alpha
            if np.isclose(alpha, alphas[-1]) and hi < EDGE_LIMIT:
                hi += EDGE_STEP
            elif np.isclose(alpha, alphas[0]) and lo > -EDGE_LIMIT:
                lo -= EDGE_STEP
            else:
                break
        info: dict[str, Any] = {
            "alpha": M._r(float(search.best_params_["model__alpha"])),
            "grid": [M._r(float(g)) for g in search.param_grid["model__alpha"][:: len(alphas) - 1]],
            "on_edge": bool(np.isclose(alpha, alphas[-1]) or np.isclose(alpha, alphas[0])),
        }
        if "model__l1_ratio" in search.best_params_:
            info["l1_ratio"] = float(search.best_params_["model__l1_ratio"])
        chosen[target] = info
        preds[target] = search.predict(Xt)
    return pd.DataFrame(preds, index=X_test.index), chosen


def predict(
    baseline: str, task: Task, train: dict[str, Any], test: dict[str, Any], seed: int
) -> tuple[pd.DataFrame | None, str, dict[str, Any]]:
    """Test predictions of one baseline, or (None, why it does not apply), and the settings
    it chose (penalties of the linear models)."""
    y_train, units_test = train["y"], test["units"]
    targets = task.targets
    if baseline in ("label_mean", "label_prevalence"):
        row = y_train[targets].mean()
        return (
            pd.DataFrame(
                [row.to_numpy()] * len(units_test), index=units_test.index, columns=targets
            ),
            "",
            {},
        )
    if baseline == "language_mean":
        overall = y_train[targets].mean()
        per_lang = y_train[targets].groupby(train["units"]["language"]).mean()
        rows = [
            per_lang.loc[lang] if lang in per_lang.index else overall
            for lang in units_test["language"]
        ]
        return (
            pd.DataFrame([r.to_numpy() for r in rows], index=units_test.index, columns=targets),
            "",
            {},
        )
    kind, _, source = baseline.partition("_")
    kind = {"ridge": "ridge", "elastic": "elastic_net"}[kind]
    source = source.replace("net_", "")
    cols_train = train["inputs"].get(source)
    cols_test = test["inputs"].get(source)
    if not cols_train or not cols_test:
        if source in MEDIA_INPUTS:
            ds = test["dataset"]
            return (
                None,
                f"needs media: no {source} features of {ds} computed here "
                f"(`mosaiq features {MEDIA_INPUTS[source]} {ds}` once its audio is present)",
                {},
            )
        return None, f"skipped: no {source} inputs for these units", {}
    X_train, X_test = train["X"][source], test["X"][source]
    if X_train.notna().sum().sum() == 0:
        return None, f"skipped: the {source} inputs are empty", {}
    pred, chosen = _linear(kind, X_train, y_train[targets], train["rows"]["fold"], X_test, seed)
    return pred, "", chosen


def _part(root: Path, task: Task, part: str, *, drop_midpoint: bool = False) -> dict[str, Any]:
    ds, units, rows = task_partition(root, task, part)
    y = units[task.targets].astype("float64")
    if drop_midpoint and not units.empty:
        recomputed = midpoint_excluded_targets(root, task, ds, units)
        if recomputed is not None:
            y = recomputed.dropna()
            units, rows = units.loc[y.index], rows.loc[y.index]
    features = feature_inputs(root, task, ds)
    inputs = input_columns(root, task, ds, units, features)
    X = {}
    for kind, cols in inputs.items():
        if kind in features:
            X[kind] = features[kind].reindex(units["clip_id"].astype(str)).set_axis(units.index)
        elif kind != "language":
            X[kind] = units[cols]
    return {"dataset": ds, "units": units, "rows": rows, "inputs": inputs, "X": X, "y": y}


def midpoint_excluded_targets(
    root: Path, task: Task, dataset: str, units: pd.DataFrame
) -> pd.DataFrame | None:
    """The task's targets of these units recomputed without the responses that rate all eight
    PAQ items at the scale midpoint (the ``exclude`` straight-lining rule), or None where the
    package already excludes them (or has no PAQ ratings). A unit left without a response gets
    empty targets."""
    from mosaiq.api import load
    from mosaiq.layout import read_descriptor
    from mosaiq.paq import PAQ_IDS

    harm = (read_descriptor(root, dataset) or {}).get("mosaiq", {}).get("harmonisation") or {}
    if not harm or harm.get("quality", {}).get("straightlining") == "exclude":
        return None
    midpoint = (harm["scale"]["minimum"] + harm["scale"]["maximum"]) / 2
    responses = load(dataset, "responses", root=root, built_only=False)
    columns = {t: t.removeprefix("mean_") for t in task.targets}
    if not set(columns.values()) <= set(responses.columns):
        return None
    kept = responses[~responses[list(PAQ_IDS)].eq(midpoint).all(axis=1)]
    keys = ["clip_id"] if task.spec["unit"] == "clip" else ["clip_id", "language"]
    means = kept.groupby(keys)[list(columns.values())].mean()
    means.columns = list(columns)
    if len(keys) == 1:
        means.index = means.index.astype(str)
    else:
        means.index = [f"{c}{UNIT_SEP}{lang}" for c, lang in means.index]
    return means.reindex(units.index.astype(str)).set_axis(units.index).astype("float64")


def _score_baselines(
    task: Task,
    train: dict[str, Any],
    test: dict[str, Any],
    *,
    seed: int,
    n_boot: int,
    min_clusters: int,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    entries: dict[str, Any] = {}
    predictions: dict[str, pd.DataFrame] = {}
    clusters = int(test["rows"]["group"].nunique())
    for baseline in task.spec["baselines"]:
        pred, why, chosen = predict(baseline, task, train, test, seed)
        if pred is None:
            entries[baseline] = {"status": why}
            continue
        lo, hi = task.spec["target_range"]
        pred = pred.clip(lo, hi).round(M.DECIMALS)
        scores = M.score(task.targets, task.spec["metrics"], test["y"], pred, task.is_labels)
        entry: dict[str, Any] = {"status": "ok", "metrics": scores, "summary": _summary(scores)}
        if n_boot:
            entry["ci95"] = M.bootstrap(
                task.targets,
                task.spec["metrics"],
                test["y"],
                pred,
                test["rows"]["group"],
                n=n_boot,
                seed=seed,
                name=f"{task.name}/{baseline}",
                is_labels=task.is_labels,
            )
            entry["ci95_clusters"] = clusters
            if clusters < min_clusters:
                entry["ci95_note"] = ci_note(clusters)
        if chosen:
            entry["chosen"] = chosen
        entries[baseline] = entry
        predictions[baseline] = pred
    return entries, predictions


def ci_note(clusters: int) -> str:
    return (
        f"unreliable: a percentile interval from a cluster bootstrap over only {clusters} clusters"
    )


def run_task(root: Path, name: str, *, bootstrap: int | None = None) -> dict[str, Any]:
    task = get_task(root, name)
    config = task.config
    seed = int(config["seed"])
    n_boot = int(bootstrap if bootstrap is not None else config["bootstrap"])
    min_clusters = int(config["min_clusters"])
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
        "published": task.spec["published"],
        "baselines": {},
    }
    predictions: dict[str, pd.DataFrame] = {}
    if result["n_train"] == 0 or result["n_test"] == 0:
        result["status"] = "skipped: the dataset is not built here"
        return {"result": result, "predictions": predictions}
    result["status"] = "ok"
    result["leakage"] = leakage(root, task)
    result["baselines"], predictions = _score_baselines(
        task, train, test, seed=seed, n_boot=n_boot, min_clusters=min_clusters
    )
    if "compare" in task.spec:
        result["comparison"] = compare(task, result["baselines"])
    sens_train = _part(root, task, "train", drop_midpoint=True)
    sens_test = _part(root, task, "test", drop_midpoint=True)
    if (
        len(sens_train["units"]) != len(train["units"])
        or len(sens_test["units"]) != len(test["units"])
        or not sens_test["y"].equals(test["y"])
    ):
        entries, _ = _score_baselines(
            task, sens_train, sens_test, seed=seed, n_boot=0, min_clusters=min_clusters
        )
        result["sensitivity"] = {
            "straightlining_exclude": {
                "description": "all-midpoint PAQ responses excluded (the `exclude` rule)",
                "n_train": len(sens_train["units"]),
                "n_test": len(sens_test["units"]),
                "baselines": {
                    b: {"summary": e["summary"], "metrics": e["metrics"]}
                    for b, e in entries.items()
                    if e.get("status") == "ok"
                },
            }
        }
    return {"result": result, "predictions": predictions}


def compare(task: Task, baselines: dict[str, Any]) -> dict[str, Any]:
    """Per target: the MSE of the ``from`` and ``to`` baselines and the gain, absolute and as a
    share of the ``from`` MSE (the same target, so comparable across projections)."""
    a, b = task.spec["compare"]["from"], task.spec["compare"]["to"]
    if baselines.get(a, {}).get("status") != "ok" or baselines.get(b, {}).get("status") != "ok":
        return {}
    out: dict[str, Any] = {"from": a, "to": b, "targets": {}}
    for t in task.targets:
        ma, mb = baselines[a]["metrics"][t]["mse"], baselines[b]["metrics"][t]["mse"]
        out["targets"][t] = {
            f"mse_{a}": ma,
            f"mse_{b}": mb,
            "gain": M._r(ma - mb),
            "relative_gain": M._r((ma - mb) / ma) if ma else None,
        }
    return out


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
        files[root / PREDICTIONS_DIR / name / PREDICTIONS_INDEX] = predictions_index_text(
            name
        ).encode()
        files[root / RESULTS_DIR / f"{name}.json"] = (
            json.dumps(out["result"], indent=2, sort_keys=True) + "\n"
        ).encode()
        files[root / METRICS_DIR / f"{name}.json"] = (
            json.dumps(task_headline(out["result"]), indent=2) + "\n"
        ).encode()
        files[root / TARGET_METRICS_DIR / f"{name}.json"] = (
            json.dumps(headline(out["result"]), indent=2, sort_keys=True) + "\n"
        ).encode()
        for baseline, pred in out["predictions"].items():
            frame = pred.reset_index().rename(columns={"index": "unit_id"})
            files[root / PREDICTIONS_DIR / name / f"{baseline}.csv"] = frame.to_csv(
                index=False, lineterminator="\n"
            ).encode()
    if tasks is None:
        files[root / LEADERBOARD] = leaderboard(results, int(config["min_clusters"])).encode()
    write_files_atomically(files)
    for r in results.values():
        r["_seconds"] = time.perf_counter() - started
    return results


def leaderboard(results: dict[str, dict[str, Any]], min_clusters: int = 20) -> str:
    """The leaderboard in markdown: every task and baseline (metrics averaged over targets),
    then the published counterparts, the leakage checks, the cross-lingual gains and the
    straight-lining sensitivity analysis."""
    lines = [
        "| task | test units (clusters) | baseline | "
        + " | ".join(["MSE", "MAE", "R²", "r", "quadrant acc. / mAP"])
        + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    flagged = False
    for name, r in results.items():
        if r.get("status") != "ok":
            lines.append(f"| {name} | – | – | {r.get('status')} | | | | |")
            continue
        clusters = r["n_test_groups"]
        flag = clusters < min_clusters
        flagged |= flag
        units = f"{r['n_test']:,} ({clusters:,}{' †' if flag else ''})"
        for baseline, b in r["baselines"].items():
            if b.get("status") != "ok":
                lines.append(f"| {name} | {units} | {baseline} | {b['status']} | | | | |")
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
            if b["metrics"].get("all"):
                s2 = b["metrics"]["all"]
                cells = [
                    "–",
                    "–",
                    f"macro F1 {_fmt(s2.get('macro_f1'))}",
                    f"micro F1 {_fmt(s2.get('micro_f1'))}",
                    _fmt(s2.get("mean_average_precision")),
                ]
            lines.append(f"| {name} | {units} | {baseline} | " + " | ".join(cells) + " |")
    if flagged:
        lines += [
            "",
            f"† fewer than {min_clusters} test clusters (the groups the bootstrap resamples): the "
            "95 % percentile intervals in `benchmark/results/<task>.json` are unreliable there "
            "(each says so, with its cluster count).",
        ]
    lines += _published(results)
    lines += _leakage(results)
    lines += _comparisons(results)
    lines += _sensitivity(results)
    return "\n".join(lines) + "\n"


def _short(target: str) -> str:
    return target.removeprefix("mean_")


def _published(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "**Published counterparts** (the figure a task can be compared with, and whether the "
        "protocol is the same):",
        "",
        "| task | baseline | target | metric | published | here | protocol |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        pub = r.get("published") or {}
        if not pub.get("figures"):
            lines.append(f"| {name} | – | – | – | {pub.get('note', 'none')} | – | – |")
            continue
        for f in pub["figures"]:
            here = (
                r.get("baselines", {})
                .get(f["baseline"], {})
                .get("metrics", {})
                .get(f["target"], {})
                .get(f["metric"])
            )
            status = r.get("baselines", {}).get(f["baseline"], {}).get("status", "")
            if r.get("status") != "ok":
                here_text = "dataset not built here"
            else:
                here_text = _fmt(here) if here is not None else (status or "not run here")
            protocol = f["protocol"] + (f": {f['note']}" if f.get("note") else "")
            lines.append(
                f"| {name} | {f['baseline']} | {_short(f['target'])} | {f['metric']} | "
                f"{f['value']:.4f} ({pub['source']}) | {here_text} | {protocol} |"
            )
    return lines


def _leakage(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "**Leakage check** (what train and test share; recordings across datasets from "
        "`benchmark/splits/overlap.csv`):",
        "",
        "| task | split group | shared groups | shared units | shared recordings |",
        "|---|---|---|---|---|",
    ]
    for name, r in results.items():
        leak = r.get("leakage")
        if not leak:
            continue
        left_out = leak.get("train_units_left_out_for_overlap")
        note = f" ({left_out} training units left out as test recordings)" if left_out else ""
        lines.append(
            f"| {name} | {leak['split_group'] or '– (two datasets)'} | {leak['shared_groups']} | "
            f"{leak['shared_units']} | {leak['shared_recordings']}{note} |"
        )
    return lines


def _comparisons(results: dict[str, dict[str, Any]]) -> list[str]:
    lines: list[str] = []
    for name, r in results.items():
        comp = r.get("comparison")
        if not comp:
            continue
        a, b = comp["from"], comp["to"]
        lines += [
            "",
            f"**{name}**: the gain from `{a}` to `{b}` on each target (MSE of the same target, "
            "so projections of different variance compare by the relative gain):",
            "",
            f"| target | MSE {a} | MSE {b} | gain | relative gain |",
            "|---|---|---|---|---|",
        ]
        for t, v in comp["targets"].items():
            rel = v["relative_gain"]
            lines.append(
                f"| {_short(t)} | {_fmt(v[f'mse_{a}'])} | {_fmt(v[f'mse_{b}'])} | "
                f"{_fmt(v['gain'])} | {'–' if rel is None else f'{100 * rel:.1f} %'} |"
            )
    return lines


def _sensitivity(results: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for name, r in results.items():
        sens = r.get("sensitivity", {}).get("straightlining_exclude")
        if not sens:
            continue
        for baseline, b in sens["baselines"].items():
            main = r["baselines"][baseline]
            m_main = main["summary"].get("mse")
            m_sens = b["summary"].get("mse")
            rows.append(
                f"| {name} | {baseline} | {r['n_test']:,} → {sens['n_test']:,} | "
                f"{_fmt(m_main)} | {_fmt(m_sens)} |"
            )
    if not rows:
        return []
    return [
        "",
        "**Sensitivity: straight-lining.** The packages keep all-midpoint PAQ responses "
        "(`keep_midpoint`, as soundscapy does); with them excluded (`exclude`) the targets are "
        "recomputed and the baselines refitted:",
        "",
        "| task | baseline | test units (keep_midpoint → exclude) | MSE keep_midpoint | "
        "MSE exclude |",
        "|---|---|---|---|---|",
        *rows,
    ]


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
