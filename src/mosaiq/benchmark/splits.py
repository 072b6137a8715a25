"""Deterministic, leakage-free splits, written as CSV files with checksums.

- ``group``: groups (ISD locations, SATP recordings) are shuffled with the task file's seed and
  taken into the test set until it holds ``test_fraction`` of the units; the training groups are
  dealt round-robin into ``folds`` cross-validation folds. No group is in two parts.
- ``official_folds``: the source's folds (ARAUS: 1-5 train and cross-validation, 0 test).
- ``multilabel_stratified``: iterative stratification (Sechidis et al. 2011) on the label
  matrix: the test set and the training folds each get their share of every label, rarest
  labels placed first.

Each split is ``benchmark/splits/<name>.csv`` (unit_id, group, split, fold), and
``benchmark/splits/SHA256SUMS`` lists their checksums. A dataset that is not built yields an
empty split file.
"""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.benchmark.tasks import SPLITS_DIR, load_tasks, unit_frame
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
    labels: np.ndarray, proportions: list[float], rng: np.random.Generator
) -> np.ndarray:
    """Subset index (0..k-1) of every row, so each subset gets its proportion of each label."""
    n = labels.shape[0]
    props = np.asarray(proportions, dtype=float)
    desired = props * n
    desired_label = np.outer(props, labels.sum(axis=0)).astype(float)
    assigned = np.full(n, -1)
    remaining = labels.astype(bool).copy()
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
            desired[k] -= 1
    for r in np.flatnonzero(assigned < 0)[rng.permutation(int((assigned < 0).sum()))]:
        k = int(np.argmax(desired))
        assigned[r] = k
        desired[k] -= 1
    return assigned


def build_split(root: Path, name: str, spec: dict[str, Any], seed: int) -> pd.DataFrame:
    units = unit_frame(root, spec["dataset"], spec["unit"])
    if units.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    rng = _rng(seed, name)
    method = spec["method"]
    if method == "group":
        out = group_split(
            units[spec["group"]].astype(str).reset_index(drop=True),
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
        from mosaiq.sources.delta import LABEL_COLUMNS

        y = units[list(LABEL_COLUMNS.values())].fillna(0).to_numpy(dtype=int)
        frac, k = spec["test_fraction"], spec.get("folds", 5)
        part = iterative_stratification(y, [frac, 1 - frac], rng)
        fold = pd.array([pd.NA] * len(units), dtype="Int64")
        train = np.flatnonzero(part == 1)
        sub = iterative_stratification(y[train], [1 / k] * k, rng)
        fold[train] = sub + 1
        out = pd.DataFrame(
            {
                "group": units["clip_id"].astype("string").to_numpy(),
                "split": np.where(part == 0, "test", "train"),
                "fold": fold,
            }
        )
    else:
        raise MosaiqError(f"split {name}: unknown method {method!r}")
    out = out.reset_index(drop=True)
    out.insert(0, "unit_id", units.index.astype("string").to_numpy())
    return out.sort_values("unit_id", kind="mergesort").reset_index(drop=True)


def _csv(frame: pd.DataFrame) -> bytes:
    frame = frame[COLUMNS].copy()
    frame["fold"] = pd.array(frame["fold"], dtype="Int64")
    return frame.to_csv(index=False, lineterminator="\n").encode()


def write_splits(root: Path) -> dict[str, pd.DataFrame]:
    config = load_tasks(root)
    out_dir = root / SPLITS_DIR
    splits = {
        name: build_split(root, name, spec, config["seed"])
        for name, spec in config["splits"].items()
    }
    files = {out_dir / f"{name}.csv": _csv(frame) for name, frame in splits.items()}
    sums = "".join(
        f"{hashlib.sha256(data).hexdigest()}  {path.name}\n" for path, data in sorted(files.items())
    )
    files[out_dir / "SHA256SUMS"] = sums.encode()
    write_files_atomically(files)
    return splits


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
