"""Deterministic, leakage-free splits, written as CSV files with checksums.

- ``group``: groups (ISD locations, SATP recordings) are shuffled with the task file's seed and
  taken into the test set until it holds ``test_fraction`` of the units; the training groups are
  dealt round-robin into ``folds`` cross-validation folds. No group is in two parts.
- ``official_folds``: the source's folds (ARAUS: 1-5 train and cross-validation, 0 test).
- ``multilabel_stratified``: iterative stratification (Sechidis et al. 2011) on the label
  matrix (the columns matching ``stratify``): the test set and the training folds each get their
  share of every label, rarest labels placed first. With a ``group`` the groups are placed whole
  (their label counts summed), so no group is in two parts.

A split's groups are the values of its ``group`` column, or, with ``group_pattern``, the first
group of that regular expression on them (DeLTA: ``<base>_<k>.mp3`` -> ``<base>``).

Each split is ``benchmark/splits/<name>.csv`` (unit_id, group, split, fold),
``benchmark/splits/overlap.csv`` is the cross-dataset overlap table, and
``benchmark/splits/SHA256SUMS`` lists their checksums. A split of a dataset that is not built
here is written empty (its header only) and is not in SHA256SUMS: nothing is pinned that is not
the benchmark's, and every split file that ``dvc.yaml`` declares as an output exists. Which of
these files git holds and which are DVC outputs (kept out of git) is the licence policy of
``dvc.yaml`` (see the README, "What is committed"); this module writes them all alike.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.benchmark.tasks import SPLITS_DIR, load_tasks, overlap_table, unit_frame
from mosaiq.errors import MosaiqError
from mosaiq.package import write_files_atomically

COLUMNS = ["unit_id", "group", "split", "fold"]


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def group_split(
    groups: pd.Series, test_fraction: float, folds: int, rng: np.random.Generator
) -> pd.DataFrame:
    sizes = groups.value_counts().sort_index()
    order = sizes.index.to_numpy()[rng.permutation(len(sizes))]
    target = test_fraction * len(groups)
    test, taken = [], 0
    for g in order:
        if taken >= target:
            break
        test.append(g)
        taken += sizes[g]
    train = [g for g in order if g not in set(test)]
    fold_of = {g: 1 + i % folds for i, g in enumerate(train)}
    split = np.where(groups.isin(test), "test", "train")
    fold = groups.map(fold_of).astype("Int64")
    return pd.DataFrame({"group": groups.astype("string"), "split": split, "fold": fold})


def iterative_stratification(
    labels: np.ndarray,
    proportions: list[float],
    rng: np.random.Generator,
    sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Subset index (0..k-1) of every row, so each subset gets its proportion of each label.

    A row may stand for a group of ``sizes[row]`` units with ``labels[row]`` the group's label
    counts; the subsets then get their proportion of units and of label occurrences.
    """
    n = labels.shape[0]
    size = np.ones(n) if sizes is None else np.asarray(sizes, dtype=float)
    props = np.asarray(proportions, dtype=float)
    desired = props * size.sum()
    desired_label = np.outer(props, labels.sum(axis=0)).astype(float)
    assigned = np.full(n, -1)
    remaining = labels > 0
    while True:
        counts = remaining[assigned < 0].sum(axis=0)
        available = np.flatnonzero(counts > 0)
        if available.size == 0:
            break
        label = available[np.argmin(counts[available])]
        rows = np.flatnonzero((assigned < 0) & remaining[:, label])
        rows = rows[rng.permutation(rows.size)]
        for r in rows:
            need = desired_label[:, label]
            best = np.flatnonzero(need == need.max())
            if best.size > 1:
                best = best[desired[best] == desired[best].max()]
            k = int(rng.choice(best))
            assigned[r] = k
            desired_label[k] -= labels[r]
            desired[k] -= size[r]
    for r in np.flatnonzero(assigned < 0)[rng.permutation(int((assigned < 0).sum()))]:
        k = int(np.argmax(desired))
        assigned[r] = k
        desired[k] -= size[r]
    return assigned


def split_groups(units: pd.DataFrame, spec: dict[str, Any]) -> pd.Series:
    """The group of every unit: the split's ``group`` column (through ``group_pattern``), or the
    clip itself."""
    if "group" not in spec:
        return units["clip_id"].astype("string").reset_index(drop=True)
    if spec["group"] not in units.columns:
        raise MosaiqError(f"split: {spec['dataset']} units have no column {spec['group']!r}")
    values = units[spec["group"]].astype("string").reset_index(drop=True)
    if spec.get("group_pattern"):
        extracted = values.str.extract(spec["group_pattern"], expand=False).astype("string")
        bad = extracted.isna() & values.notna()
        if bad.any():
            raise MosaiqError(
                f"split: {spec['dataset']} {spec['group']} {values[bad].iloc[0]!r} does not "
                f"match group_pattern {spec['group_pattern']!r}"
            )
        values = extracted
    return values


def build_split(root: Path, name: str, spec: dict[str, Any], seed: int) -> pd.DataFrame:
    units = unit_frame(root, spec["dataset"], spec["unit"])
    if units.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    rng = _rng(seed, name)
    method = spec["method"]
    if method == "group":
        out = group_split(
            split_groups(units, spec).astype(str),
            spec["test_fraction"],
            spec.get("folds", 5),
            rng,
        )
    elif method == "official_folds":
        fold = units["fold"].astype("Int64").reset_index(drop=True)
        out = pd.DataFrame(
            {
                "group": units["clip_id"].astype("string").to_numpy(),
                "split": np.where(fold == 0, "test", "train"),
                "fold": fold.where(fold != 0),
            }
        ).reset_index(drop=True)
    elif method == "multilabel_stratified":
        groups = split_groups(units, spec)
        label_cols = [c for c in units.columns if re.search(spec.get("stratify", "^$"), c)]
        if not label_cols:
            raise MosaiqError(f"split {name}: no column matches stratify {spec.get('stratify')!r}")
        y = pd.DataFrame(units[label_cols].fillna(0).to_numpy(dtype=int))
        codes, uniques = pd.factorize(groups)
        per_group = y.groupby(codes).sum().to_numpy()
        sizes = np.bincount(codes, minlength=len(uniques))
        frac, k = spec["test_fraction"], spec.get("folds", 5)
        part = iterative_stratification(per_group, [frac, 1 - frac], rng, sizes)
        fold_of = pd.array([pd.NA] * len(uniques), dtype="Int64")
        train = np.flatnonzero(part == 1)
        sub = iterative_stratification(per_group[train], [1 / k] * k, rng, sizes[train])
        fold_of[train] = sub + 1
        out = pd.DataFrame(
            {
                "group": groups.to_numpy(),
                "split": np.where(part[codes] == 0, "test", "train"),
                "fold": fold_of[codes],
            }
        )
    else:
        raise MosaiqError(f"split {name}: unknown method {method!r}")
    out = out.reset_index(drop=True)
    out.insert(0, "unit_id", units.index.astype("string").to_numpy())
    return out.sort_values("unit_id", kind="mergesort").reset_index(drop=True)


def _csv(frame: pd.DataFrame) -> bytes:
    frame = frame[COLUMNS].copy()
    frame["fold"] = frame["fold"].astype("Int64")
    return frame.to_csv(index=False, lineterminator="\n").encode()


OVERLAP_FILE = "overlap.csv"


def write_splits(root: Path) -> dict[str, pd.DataFrame]:
    """Write the splits of the datasets built here, the overlap table and their checksums."""
    config = load_tasks(root)
    out_dir = root / SPLITS_DIR
    splits = {
        name: build_split(root, name, spec, config["seed"])
        for name, spec in config["splits"].items()
    }
    built = {name: frame for name, frame in splits.items() if not frame.empty}
    pinned = {out_dir / f"{name}.csv": _csv(frame) for name, frame in built.items()}
    overlap = overlap_table(root, config)
    pinned[out_dir / OVERLAP_FILE] = overlap.to_csv(index=False, lineterminator="\n").encode()
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {path.name}\n"
        for path, data in sorted(pinned.items())
    )
    # a dataset not built here: its split is the header alone, and is not pinned
    empty = {out_dir / f"{name}.csv": _csv(splits[name]) for name in set(splits) - set(built)}
    write_files_atomically({**pinned, **empty, out_dir / "SHA256SUMS": sums.encode()})
    return built


def verify_checksums(root: Path) -> list[str]:
    """Split files whose sha256 differs from SHA256SUMS (empty: all match)."""
    out_dir = root / SPLITS_DIR
    bad = []
    for line in (out_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        path = out_dir / name.strip()
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            bad.append(name.strip())
    return bad
