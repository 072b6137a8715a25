"""Benchmark tasks: the versioned task file, its units, inputs and targets.

``benchmark/tasks.yaml`` declares every task (unit, units kept, inputs allowed, targets, metrics,
split, baselines) and every split; ``benchmark/tasks.schema.json`` validates it. A unit is a
clip (``clip_id``) or a clip in one questionnaire language (``<clip_id>|<language>``).

``mosaiq.load_task("isd_iso", split="train")`` returns ``(X, y)``: the inputs the task allows
and its targets, indexed by unit, ready for scikit-learn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.settings import find_root, read_yaml

TASKS_FILE = Path("benchmark") / "tasks.yaml"
SCHEMA_FILE = Path("benchmark") / "tasks.schema.json"
SPLITS_DIR = Path("benchmark") / "splits"
RESULTS_DIR = Path("benchmark") / "results"
PREDICTIONS_DIR = Path("benchmark") / "predictions"
UNIT_SEP = "|"


def load_tasks(root: Path) -> dict[str, Any]:
    """The task file, validated against its JSON Schema and for internal consistency."""
    import jsonschema

    path = root / TASKS_FILE
    if not path.is_file():
        raise MosaiqError(f"{path}: task file not found")
    spec = read_yaml(path)
    schema = json.loads((root / SCHEMA_FILE).read_text())
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(spec), key=lambda e: list(e.path)
    )
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.path) or "(top)"
        raise MosaiqError(f"{path}: {where}: {e.message}")
    for name, task in spec["tasks"].items():
        for key in ("split", "test_split", "train_split"):
            ref = task.get(key)
            if ref and ref != "transfer" and ref not in spec["splits"]:
                raise MosaiqError(f"{path}: tasks/{name}/{key}: no split named {ref!r}")
        if task["split"] == "transfer" and "train_dataset" not in task:
            raise MosaiqError(f"{path}: tasks/{name}: a transfer task needs train_dataset")
    return spec


@dataclass(frozen=True)
class Task:
    name: str
    spec: dict[str, Any]
    config: dict[str, Any]

    @property
    def targets(self) -> list[str]:
        return list(self.spec["targets"])

    @property
    def is_labels(self) -> bool:
        return bool(self.spec.get("labels"))


def get_task(root: Path, name: str) -> Task:
    config = load_tasks(root)
    if name not in config["tasks"]:
        raise MosaiqError(f"unknown task {name!r}; tasks: {', '.join(config['tasks'])}")
    return Task(name, config["tasks"][name], config)


def unit_frame(root: Path, dataset: str, unit: str) -> pd.DataFrame:
    """Every unit of a dataset with its clip attributes, indexed by ``unit_id``."""
    from mosaiq.api import load
    from mosaiq.layout import BUILT, read_descriptor

    status = (read_descriptor(root, dataset) or {}).get("mosaiq", {}).get("build_status")
    if status != BUILT:
        return pd.DataFrame(index=pd.Index([], name="unit_id", dtype="string"))
    clips = load(dataset, "clips", root=root)
    if unit == "clip":
        frame = clips.assign(unit_id=clips["clip_id"])
    else:
        per_lang = load(dataset, "clip_languages", root=root)
        extra = [c for c in clips.columns if c not in per_lang.columns or c == "clip_id"]
        frame = per_lang.merge(clips[extra], on="clip_id", how="left")
        frame["unit_id"] = frame["clip_id"] + UNIT_SEP + frame["language"]
    return frame.set_index("unit_id", drop=False).rename_axis("unit_id")


def acoustic_columns(kind: str | None) -> list[str]:
    if kind == "isd_acoustic":
        from mosaiq.sources.isd import ACOUSTIC_COLUMNS

        return [name for _src, name, _unit, _desc in ACOUSTIC_COLUMNS]
    if kind == "araus_acoustic":
        from mosaiq.sources.araus import ACOUSTIC_COLUMNS

        return list(ACOUSTIC_COLUMNS)
    return []


def visual_matrix(root: Path, dataset: str) -> pd.DataFrame:
    """CLIP embeddings of the dataset's clips (one definition: the most common), by clip_id;
    empty when the dataset has none."""
    from mosaiq.features.store import load_vector, read_records

    try:
        records = read_records(root, dataset, "clip_embedding")
    except MosaiqError:
        return pd.DataFrame()
    if records.empty:
        return pd.DataFrame()
    definition = records["definition_id"].value_counts().index[0]
    records = records[records["definition_id"] == definition]
    base = root / "datasets" / dataset
    vectors = np.stack(
        [load_vector(base, r).astype(np.float64) for r in records.to_dict("records")]
    )
    cols = [f"clip_{i}" for i in range(vectors.shape[1])]
    return pd.DataFrame(vectors, index=records["clip_id"].astype(str).to_numpy(), columns=cols)


def task_units(root: Path, task: Task, dataset: str | None = None) -> pd.DataFrame:
    """The units a task keeps (of ``dataset``; default the task's), with inputs and targets."""
    ds = dataset or task.spec["dataset"]
    frame = unit_frame(root, ds, task.spec["unit"])
    if frame.empty:  # the dataset is not built here: no units, but the task's columns
        return frame.reindex(columns=["clip_id", *task.targets])
    keep = dict(task.spec.get("keep", {}))
    if ds != task.spec["dataset"]:
        # the training side of a cross-dataset task: only the response rule applies
        keep = {k: v for k, v in keep.items() if k == "complete_responses"}
    mask = pd.Series(True, index=frame.index)
    if keep.get("complete_responses") and "n_complete" in frame.columns:
        mask &= frame["n_complete"].fillna(0) > 0
    if keep.get("inputs_present") == "acoustic":
        cols = [c for c in acoustic_columns(_acoustic_kind(ds)) if c in frame.columns]
        mask &= frame[cols].notna().any(axis=1) if cols else False
    if keep.get("language"):
        mask &= frame["language"] == keep["language"]
    targets = [t for t in task.targets if t in frame.columns]
    if len(targets) != len(task.targets):
        missing = sorted(set(task.targets) - set(targets))
        raise MosaiqError(f"task {task.name}: {ds} has no target column(s) {missing}")
    mask &= frame[targets].notna().all(axis=1)
    return frame[mask.to_numpy()]


def _acoustic_kind(dataset: str) -> str | None:
    return {"ISD": "isd_acoustic", "ARAUS": "araus_acoustic"}.get(dataset)


def input_columns(task: Task, frame: pd.DataFrame, visual: pd.DataFrame) -> dict[str, list[str]]:
    """The allowed inputs present for these units, by kind (empty kinds are left out)."""
    inputs = task.spec.get("inputs", {})
    out: dict[str, list[str]] = {}
    cols = [c for c in acoustic_columns(inputs.get("acoustic")) if c in frame.columns]
    if cols and frame[cols].notna().any().any():
        out["acoustic"] = cols
    if inputs.get("visual") and not visual.empty:
        out["visual"] = list(visual.columns)
    if inputs.get("language"):
        out["language"] = ["language"]
    return out


def read_split(root: Path, name: str) -> pd.DataFrame:
    path = root / SPLITS_DIR / f"{name}.csv"
    if not path.is_file():
        raise MosaiqError(f"{path}: split not found; run `mosaiq splits` (or `dvc repro`)")
    return pd.read_csv(
        path,
        dtype={"unit_id": "string", "group": "string", "split": "string", "fold": "Int64"},
        keep_default_na=False,
        na_values=[""],
    )


def task_partition(root: Path, task: Task, part: str) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """(dataset, units, split rows) of the train or test part of a task."""
    if part not in ("train", "test"):
        raise MosaiqError(f"split must be 'train' or 'test', not {part!r}")
    spec = task.spec
    if spec["split"] == "transfer":
        ds = spec["train_dataset"] if part == "train" else spec["dataset"]
        split_name = spec.get("train_split" if part == "train" else "test_split")
    else:
        ds, split_name = spec["dataset"], spec["split"]
    units = task_units(root, task, ds)
    if split_name:
        rows = read_split(root, split_name)
        rows = rows[rows["split"] == part].set_index("unit_id")
        units = units[units.index.isin(rows.index)]
        rows = rows.loc[units.index]
    else:
        rows = pd.DataFrame(
            {
                "group": units.index.astype("string"),
                "split": part,
                "fold": pd.array([pd.NA] * len(units), dtype="Int64"),
            },
            index=units.index,
        )
    return ds, units, rows


def load_task(
    task: str, split: str = "train", *, root: str | Path | None = None, with_groups: bool = False
):
    """``(X, y)`` of a task's train or test part: allowed inputs and targets, by unit.

    With ``with_groups=True`` also the split's groups (and folds), for grouped cross-validation:
    ``X, y, groups = load_task("isd_iso", with_groups=True)``.
    """
    base = find_root(root)
    t = get_task(base, task)
    ds, units, rows = task_partition(base, t, split)
    visual = visual_matrix(base, ds) if t.spec.get("inputs", {}).get("visual") else pd.DataFrame()
    kinds = input_columns(t, units, visual)
    parts = []
    for kind, cols in kinds.items():
        if kind == "visual":
            parts.append(visual.reindex(units["clip_id"].astype(str)).set_axis(units.index))
        else:
            parts.append(units[cols])
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=units.index)
    y = units[t.targets].astype("float64")
    if with_groups:
        return X, y, rows[["group", "fold"]]
    return X, y
