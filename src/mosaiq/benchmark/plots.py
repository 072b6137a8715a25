"""Figures of the benchmark (PNG files under benchmark/plots/, listed for `dvc plots`).

Which figures, of which datasets and tables, is declared under ``figures`` in the task file:

- ``circumplex_<DS>.png``: clip ISO coordinates of a dataset, scatter over a density, on the
  [-1, 1] circumplex with its quadrants named;
- ``circumplex_by_group``: the same, one panel per group (e.g. per ISD location);
- ``pred_vs_obs_<task>.png``: predicted against observed for each baseline of a regression task;
- ``label_prevalence``: how often each label (e.g. a DeLTA source label) is a clip's majority
  label;
- ``computed_vs_published``: a dataset's published acoustic indicators against the same ones
  computed from its recordings, one panel per indicator (only once some are computed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mosaiq.benchmark.tasks import (
    PREDICTIONS_DIR,
    RESULTS_DIR,
    feature_matrix,
    get_task,
    load_tasks,
    task_partition,
)

PLOTS_DIR = Path("benchmark") / "plots"
QUADRANTS = {(1, 1): "vibrant", (-1, 1): "chaotic", (-1, -1): "monotonous", (1, -1): "calm"}


MIN_DENSITY_POINTS = 30  # soundscapy advises no density below 30 points: a scatter then


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "svg.hashsalt": "mosaiq"})
    return plt


def _circumplex_axes(ax, title: str) -> None:
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel("ISO Pleasant")
    ax.set_ylabel("ISO Eventful")
    ax.set_title(title)
    for (sx, sy), name in QUADRANTS.items():
        ax.text(
            0.93 * sx,
            0.93 * sy,
            name,
            ha="right" if sx > 0 else "left",
            va="top" if sy > 0 else "bottom",
            color="0.45",
            fontsize=8,
        )


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Software": None})  # no version stamp: reproducible bytes
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def circumplex(root: Path, dataset: str, out: Path, table: str = "clips") -> Path | None:
    from mosaiq.api import load

    try:
        clips = load(dataset, table, root=root)
    except Exception:  # a dataset not built here has no figure
        return None
    if "mean_ISOPleasant" not in clips.columns or clips.empty:
        return None
    xy = clips[["mean_ISOPleasant", "mean_ISOEventful"]].dropna().to_numpy()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    if len(xy) >= 1000:
        ax.hexbin(
            xy[:, 0],
            xy[:, 1],
            gridsize=24,
            extent=(-1, 1, -1, 1),
            cmap="Blues",
            mincnt=1,
            linewidths=0,
        )
        ax.scatter(xy[:, 0], xy[:, 1], s=4, c="0.15", alpha=0.35, lw=0)
    else:
        ax.scatter(xy[:, 0], xy[:, 1], s=12, alpha=0.6, lw=0)
    unit = "clip x language" if table == "clip_languages" else "clip"
    _circumplex_axes(ax, f"{dataset}: {unit} ISO coordinates (n = {len(xy):,})")
    fig.tight_layout()
    return _save(fig, out)


def circumplex_by_group(root: Path, dataset: str, group: str, out: Path) -> Path | None:
    from mosaiq.api import load

    try:
        clips = load(dataset, "clips", root=root)
    except Exception:
        return None
    clips = clips.dropna(subset=["mean_ISOPleasant", "mean_ISOEventful"])
    if clips.empty:
        return None
    from soundscapy.plotting import density, scatter

    locations = sorted(clips[group].unique())
    cols = 6
    rows = int(np.ceil(len(locations) / cols))
    plt = _pyplot()
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.8 * cols, 3.0 * rows), squeeze=False, layout="constrained"
    )
    x, y = "mean_ISOPleasant", "mean_ISOEventful"
    for ax, loc in zip(axes.ravel(), locations, strict=False):
        sub = clips.loc[clips[group] == loc, [x, y]].astype("float64")
        title = f"{loc} ({len(sub)})"
        # soundscapy's circumplex density (with its points); too few points for a density: points
        if len(sub) >= MIN_DENSITY_POINTS:
            density(sub, title=title, ax=ax, x=x, y=y, legend=False, scatter_kws={"s": 6})
        else:
            scatter(sub, title=title, ax=ax, x=x, y=y, legend=False, s=6)
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=6)
        ax.xaxis.label.set_fontsize(7)
        ax.yaxis.label.set_fontsize(7)
    for ax in axes.ravel()[len(locations) :]:
        ax.axis("off")
    fig.suptitle(
        f"{dataset}: clip ISO coordinates per {group} (density where n >= {MIN_DENSITY_POINTS})"
    )
    return _save(fig, out)


def predicted_vs_observed(root: Path, task_name: str, out: Path) -> Path | None:
    task = get_task(root, task_name)
    if task.is_labels:
        return None
    results = root / RESULTS_DIR / f"{task_name}.json"
    if not results.is_file():
        return None
    result = json.loads(results.read_text())
    baselines = [b for b, v in result.get("baselines", {}).items() if v.get("status") == "ok"]
    if not baselines:
        return None
    _ds, units, _rows = task_partition(root, task, "test")
    targets = task.targets
    plt = _pyplot()
    fig, axes = plt.subplots(
        len(baselines),
        len(targets),
        squeeze=False,
        figsize=(2.8 * len(targets), 3.3 * len(baselines)),
        layout="constrained",
    )
    lo, hi = task.spec["target_range"]
    for i, b in enumerate(baselines):
        pred = (
            pd.read_csv(root / PREDICTIONS_DIR / task_name / f"{b}.csv", dtype={"unit_id": str})
            .set_index("unit_id")
            .loc[units.index]
        )
        for j, t in enumerate(targets):
            ax = axes[i, j]
            ax.scatter(units[t], pred[t], s=6, alpha=0.5, lw=0)
            ax.plot([lo, hi], [lo, hi], color="0.5", lw=0.8, ls="--")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
            mse = result["baselines"][b]["metrics"].get(t, {}).get("mse")
            ax.set_title(f"{t.removeprefix('mean_')}\n{b}, MSE {mse:.3f}", fontsize=8)
            ax.set_xlabel("observed")
            ax.set_ylabel("predicted")
    fig.suptitle(f"{task_name}: predicted vs observed ({len(units):,} test units)")
    return _save(fig, out)


def label_prevalence(root: Path, dataset: str, columns: str, out: Path) -> Path | None:
    import re

    from mosaiq.api import load

    try:
        clips = load(dataset, "clips", root=root)
    except Exception:
        return None
    labels = [c for c in clips.columns if re.search(columns, c)]
    if clips.empty or not labels:
        return None
    prevalence = pd.Series(
        {re.sub(columns, "", c).replace("_", " "): clips[c].astype(float).mean() for c in labels}
    ).sort_values()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 6.5), layout="constrained")
    ax.barh(prevalence.index, prevalence.to_numpy(), color="tab:blue")
    ax.set_xlabel("share of clips where the label is a majority label")
    ax.set_xlim(0, max(0.05, float(prevalence.max()) * 1.1))
    # a figure title, centred on the figure (an axes title is cropped by long label names)
    fig.suptitle(f"{dataset}: label prevalence ({len(clips):,} clips)")
    return _save(fig, out)


def computed_vs_published(
    root: Path, dataset: str, feature: str, columns: list[str], out: Path
) -> Path | None:
    """One scatter per indicator: published (x) against computed (y), on the same clips."""
    from mosaiq.api import load

    try:
        clips = load(dataset, "clips", root=root)
    except Exception:
        return None
    computed = feature_matrix(root, dataset, feature)
    if computed.empty:
        return None
    published = clips.set_index(clips["clip_id"].astype(str))
    shown = [c for c in columns if c in computed.columns and c in published.columns]
    both = computed.index.intersection(published.index)
    if not shown or both.empty:
        return None
    plt = _pyplot()
    ncol = min(4, len(shown))
    nrow = -(-len(shown) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3 * ncol, 3 * nrow), squeeze=False)
    for ax, col in zip(axes.flat, shown, strict=False):
        x = published.loc[both, col].astype(float)
        y = computed.loc[both, col].astype(float)
        ok = x.notna() & y.notna()
        ax.scatter(x[ok], y[ok], s=12, color="tab:blue")
        if ok.any():
            lo = float(min(x[ok].min(), y[ok].min())) - 1
            hi = float(max(x[ok].max(), y[ok].max())) + 1
            ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
            diff = float((y[ok] - x[ok]).mean())
            ax.set_title(f"{col} (mean diff {diff:+.2f}, n={int(ok.sum())})", fontsize=8)
        ax.set_xlabel("published")
        ax.set_ylabel("computed")
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.suptitle(f"{dataset}: {feature}, computed from the recordings vs published")
    fig.tight_layout()
    return _save(fig, out)


def make_all(root: Path) -> list[Path]:
    out = root / PLOTS_DIR
    config = load_tasks(root)
    figures = config["figures"]
    made = [
        circumplex(root, ds, out / f"circumplex_{ds}.png", table)
        for ds, table in figures.get("circumplex", {}).items()
    ]
    for spec in figures.get("circumplex_by_group", []):
        made.append(circumplex_by_group(root, spec["dataset"], spec["group"], out / spec["file"]))
    for name in config["tasks"]:
        made.append(predicted_vs_observed(root, name, out / f"pred_vs_obs_{name}.png"))
    for spec in figures.get("label_prevalence", []):
        made.append(label_prevalence(root, spec["dataset"], spec["columns"], out / spec["file"]))
    for spec in figures.get("computed_vs_published", []):
        made.append(
            computed_vs_published(
                root, spec["dataset"], spec["feature"], spec["columns"], out / spec["file"]
            )
        )
    return [p for p in made if p is not None]
