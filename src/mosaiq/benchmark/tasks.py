"""Benchmark tasks: the versioned task file, its units, inputs and targets.

``benchmark/tasks.yaml`` declares every task (unit, units kept, inputs allowed, targets, metrics,
split, baselines) and every split; ``benchmark/tasks.schema.json`` validates it. A unit is a
clip (``clip_id``) or a clip in one questionnaire language (``<clip_id>|<language>``).

``mosaiq.load_task("isd_iso", split="train")`` returns ``(X, y)``: the inputs the task allows
and its targets, indexed by unit, ready for scikit-learn.

What the benchmark needs to know about a dataset is declared in the task file, never tested by
name here: the input sets (a run of a table's fields in the package's schema on disk), the split
groups, the label columns, the figures, and the ``overlap`` rules that say which column names a
clip's recording. :func:`overlap_table` pairs the clips of two datasets that are the same
recording; a cross-dataset task leaves those out of training, and :func:`leakage` measures what
a task's train and test parts share.
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
        for ref in (task.get("keep", {}).get("inputs_present"), task["inputs"].get("acoustic")):
            if ref and ref not in spec["input_sets"]:
                raise MosaiqError(f"{path}: tasks/{name}: no input set named {ref!r}")
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


def input_set_columns(root: Path, config: dict[str, Any], name: str | None) -> list[str]:
    """The columns of a named input set (``input_sets`` in the task file): a run of a table's
    fields, ``first`` to ``last``, in the order of the package's schema on disk. Empty when the
    set is not named or its dataset is not built here."""
    if not name:
        return []
    spec = config.get("input_sets", {}).get(name)
    if spec is None:
        raise MosaiqError(f"{root / TASKS_FILE}: no input set named {name!r}")
    path = root / "datasets" / spec["dataset"] / "schemas" / f"{spec['table']}.schema.yaml"
    if not path.is_file():
        return []
    fields = [f["name"] for f in read_yaml(path)["fields"]]
    for key in ("first", "last"):
        if spec[key] not in fields:
            raise MosaiqError(
                f"{root / TASKS_FILE}: input_sets/{name}/{key}: {path} has no field {spec[key]!r}"
            )
    return fields[fields.index(spec["first"]) : fields.index(spec["last"]) + 1]


def _input_set_of(config: dict[str, Any], task: Task, dataset: str) -> str | None:
    """The task's acoustic input set if it describes ``dataset``'s clips."""
    name = task.spec.get("inputs", {}).get("acoustic")
    spec = config.get("input_sets", {}).get(name or "", {})
    return name if spec.get("dataset") == dataset else None


def recording_keys(config: dict[str, Any], dataset: str, frame: pd.DataFrame) -> pd.Series:
    """The recording each unit of ``dataset`` comes from, as the task file's ``overlap`` keys
    name it (lower case; empty where the dataset declares no key)."""
    for rule in config.get("overlap", []):
        spec = rule["keys"].get(dataset)
        if spec is not None and spec["column"] in frame.columns:
            return _key(frame[spec["column"]], spec.get("pattern"))
    return pd.Series(pd.NA, index=frame.index, dtype="string")


def _key(values: pd.Series, pattern: str | None) -> pd.Series:
    out = values.astype("string").str.strip()
    if pattern:
        out = out.str.extract(pattern, expand=False).astype("string")
    return out.str.lower()


OVERLAP_COLUMNS = ["dataset_a", "clip_a", "dataset_b", "clip_b", "recording", "how"]


def overlap_table(root: Path, config: dict[str, Any]) -> pd.DataFrame:
    """Clips of two datasets that are the same recording, by the task file's ``overlap`` rules:
    one row per pair (only datasets built here)."""
    rows = []
    for rule in config.get("overlap", []):
        a, b = rule["datasets"]
        sides = []
        for ds in (a, b):
            clips = unit_frame(root, ds, "clip")
            spec = rule["keys"][ds]
            if clips.empty:
                break
            if spec["column"] not in clips.columns:
                raise MosaiqError(
                    f"{root / TASKS_FILE}: overlap {a}-{b}: {ds} clips have no column "
                    f"{spec['column']!r}"
                )
            sides.append(
                pd.DataFrame(
                    {
                        "clip": clips["clip_id"].astype("string").to_numpy(),
                        "recording": _key(clips[spec["column"]], spec.get("pattern")).to_numpy(),
                    }
                ).dropna()
            )
        if len(sides) < 2:
            continue
        pairs = sides[0].merge(sides[1], on="recording", suffixes=("_a", "_b"))
        rows.append(
            pd.DataFrame(
                {
                    "dataset_a": a,
                    "clip_a": pairs["clip_a"],
                    "dataset_b": b,
                    "clip_b": pairs["clip_b"],
                    "recording": pairs["recording"],
                    "how": " ".join(rule["how"].split()),
                }
            )
        )
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="string") for c in OVERLAP_COLUMNS})
    out = pd.concat(rows, ignore_index=True)[OVERLAP_COLUMNS]
    return out.sort_values(OVERLAP_COLUMNS[:4], kind="mergesort").reset_index(drop=True)


def overlapping_clips(
    overlap: pd.DataFrame, dataset: str, clips: pd.Series, other: str
) -> set[str]:
    """The clips of ``other`` that are the same recording as one of ``clips`` of ``dataset``."""
    ids = set(clips.astype(str))
    out: set[str] = set()
    for x, y in (("a", "b"), ("b", "a")):
        hit = (
            (overlap[f"dataset_{x}"] == dataset)
            & (overlap[f"dataset_{y}"] == other)
            & overlap[f"clip_{x}"].isin(ids)
        )
        out |= set(overlap.loc[hit, f"clip_{y}"].astype(str))
    return out


# Input kinds a task may declare that are computed features, by record name (``inputs`` of a
# task: ``{visual: clip_embedding, indicators: acoustic_indicators, audio: clap_embedding}``).
FEATURE_INPUTS = ("visual", "indicators", "audio")
# Audio-derived kinds: absent, they need the dataset's media (not an empty score).
MEDIA_INPUTS = {"indicators": "acoustics", "audio": "clap"}
CHANNEL_SUFFIXES = ("_left", "_right", "_mono")


def feature_matrix(root: Path, dataset: str, name: str) -> pd.DataFrame:
    """A computed feature of the dataset's clips (one definition: the most common), by clip_id;
    empty when the dataset has none. Vectors give columns ``<name>_<i>``; named values (acoustic
    indicators) their names, the channel-independent ones only (ISD's louder-channel values)."""
    import json

    from mosaiq.features.store import load_vector, read_records

    try:
        records = read_records(root, dataset, name)
    except MosaiqError:
        return pd.DataFrame()
    if records.empty:
        return pd.DataFrame()
    definition = records["definition_id"].value_counts().index[0]
    records = records[records["definition_id"] == definition]
    base = root / "datasets" / dataset
    index = records["clip_id"].astype(str).to_numpy()
    rows = records.to_dict("records")
    if (records["value_format"] == "json").all():
        values = [
            json.loads(r["feature_value_json"])
            if isinstance(r.get("feature_value_json"), str)
            else json.loads((base / str(r["feature_path"])).read_text())
            for r in rows
        ]
        frame = pd.DataFrame(values, index=index, dtype="float64")
        keep = [c for c in frame.columns if not str(c).endswith(CHANNEL_SUFFIXES)]
        return frame[keep]
    vectors = np.stack([load_vector(base, r).astype(np.float64) for r in rows])
    prefix = name.removesuffix("_embedding")
    cols = [f"{prefix}_{i}" for i in range(vectors.shape[1])]
    return pd.DataFrame(vectors, index=index, columns=cols)


def visual_matrix(root: Path, dataset: str) -> pd.DataFrame:
    """CLIP embeddings of the dataset's clips, by clip_id; empty when the dataset has none."""
    return feature_matrix(root, dataset, "clip_embedding")


def feature_inputs(root: Path, task: Task, dataset: str) -> dict[str, pd.DataFrame]:
    """The computed features a task declares as inputs, by kind (empty frames where absent)."""
    inputs = task.spec.get("inputs", {})
    return {k: feature_matrix(root, dataset, inputs[k]) for k in FEATURE_INPUTS if inputs.get(k)}


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
    if keep.get("inputs_present"):
        cols = input_set_columns(root, task.config, keep["inputs_present"])
        cols = [c for c in cols if c in frame.columns]
        mask &= frame[cols].notna().any(axis=1) if cols else False
    if keep.get("language"):
        mask &= frame["language"] == keep["language"]
    targets = [t for t in task.targets if t in frame.columns]
    if len(targets) != len(task.targets):
        missing = sorted(set(task.targets) - set(targets))
        raise MosaiqError(f"task {task.name}: {ds} has no target column(s) {missing}")
    mask &= frame[targets].notna().all(axis=1)
    return frame[mask.to_numpy()]


def input_columns(
    root: Path, task: Task, dataset: str, frame: pd.DataFrame, features: dict[str, pd.DataFrame]
) -> dict[str, list[str]]:
    """The allowed inputs present for these units, by kind (empty kinds are left out)."""
    inputs = task.spec.get("inputs", {})
    out: dict[str, list[str]] = {}
    cols = input_set_columns(root, task.config, _input_set_of(task.config, task, dataset))
    cols = [c for c in cols if c in frame.columns]
    if cols and frame[cols].notna().any().any():
        out["acoustic"] = cols
    for kind, matrix in features.items():
        if inputs.get(kind) and not matrix.empty:
            present = matrix.reindex(frame["clip_id"].astype(str))
            if present.notna().any().any():
                out[kind] = list(matrix.columns)
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
    if units.empty:  # the dataset is not built here: neither units nor split
        split_name = None
    if spec["split"] == "transfer" and part == "train":
        # never train on a recording the test set holds (benchmark/splits/overlap.csv)
        test_ds, test_units, _ = task_partition(root, task, "test")
        shared = overlapping_clips(
            overlap_table(root, task.config), test_ds, test_units["clip_id"], ds
        )
        if ds == test_ds:
            shared |= set(test_units["clip_id"].astype(str))
        units = units[~units["clip_id"].astype(str).isin(shared).to_numpy()]
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
    from mosaiq.api import require_built

    base = find_root(root)
    t = get_task(base, task)
    for name in {t.spec["dataset"], t.spec.get("train_dataset", t.spec["dataset"])}:
        require_built(name, base)
    ds, units, rows = task_partition(base, t, split)
    features = feature_inputs(base, t, ds)
    kinds = input_columns(base, t, ds, units, features)
    parts = []
    for kind, cols in kinds.items():
        if kind in features:
            part = features[kind].reindex(units["clip_id"].astype(str)).set_axis(units.index)
            if kind in MEDIA_INPUTS:  # computed indicators share the published ones' names
                part = part.add_prefix(f"{kind}:")
            parts.append(part)
        else:
            parts.append(units[cols])
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=units.index)
    y = units[t.targets].astype("float64")
    if with_groups:
        return X, y, rows[["group", "fold"]]
    return X, y


def leakage(root: Path, task: Task) -> dict[str, Any]:
    """What a task's train and test parts share: split groups, units and recordings (by the
    ``overlap`` keys within a dataset, by the overlap table across datasets). All zero for a
    leakage-free task."""
    train_ds, train_units, train_rows = task_partition(root, task, "train")
    test_ds, test_units, test_rows = task_partition(root, task, "test")
    out: dict[str, Any] = {"split_group": None, "shared_groups": 0}
    if train_ds == test_ds:
        split_name = task.spec.get("test_split") or task.spec["split"]
        split = task.config["splits"].get(split_name, {})
        group = split.get("group", "unit")
        out["split_group"] = f"{group} (base)" if split.get("group_pattern") else group
        out["shared_groups"] = len(
            set(train_rows["group"].dropna()) & set(test_rows["group"].dropna())
        )
        out["shared_units"] = len(set(train_units.index) & set(test_units.index))
        keys_train = recording_keys(task.config, train_ds, train_units).dropna()
        keys_test = recording_keys(task.config, test_ds, test_units).dropna()
        shared = set(keys_train) & set(keys_test)
        shared_clips = set(train_units["clip_id"].astype(str)) & set(
            test_units["clip_id"].astype(str)
        )
        out["shared_recordings"] = len(shared) + len(shared_clips)
    else:
        out["shared_units"] = 0
        hits = overlapping_clips(
            overlap_table(root, task.config), test_ds, test_units["clip_id"], train_ds
        )
        out["shared_recordings"] = len(hits & set(train_units["clip_id"].astype(str)))
        candidates = task_units(root, task, train_ds)["clip_id"].astype(str)
        out["train_units_left_out_for_overlap"] = int(candidates.isin(hits).sum())
    return out
