"""The Python entry points: tables of the built packages as typed DataFrames."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.layout import BUILT, package_dir, read_descriptor
from mosaiq.package import read_table
from mosaiq.settings import DATASETS, find_root, read_yaml

TABLES = ("clips", "responses", "exclusions", "features")


def load(dataset: str, table: str = "clips", *, root: str | Path | None = None) -> pd.DataFrame:
    """A table of a built package, with the pandas dtypes its Frictionless schema declares.

    >>> clips = mosaiq.load("ISD", "clips")      # doctest: +SKIP
    """
    base = find_root(root)
    if dataset not in DATASETS:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    descriptor = read_descriptor(base, dataset)
    if descriptor is None:
        raise MosaiqError(
            f"{dataset} is not built here: run `mosaiq build {dataset}` "
            f"or `dvc pull datasets/{dataset}`"
        )
    resources = {r["name"]: r for r in descriptor["resources"]}
    if table not in resources:
        raise MosaiqError(f"{dataset} has no table {table!r}; tables: {', '.join(resources)}")
    pkg = package_dir(base, dataset)
    res = resources[table]
    return read_table(pkg / res["path"], read_yaml(pkg / res["schema"]))


def built_datasets(root: str | Path | None = None) -> list[str]:
    base = find_root(root)
    out = []
    for ds in DATASETS:
        descriptor = read_descriptor(base, ds)
        if descriptor and descriptor.get("mosaiq", {}).get("build_status") == BUILT:
            out.append(ds)
    return out


def load_all(table: str = "clips", *, root: str | Path | None = None) -> pd.DataFrame:
    """One DataFrame across the built datasets: the columns every one of them has, in the
    order of the first, with ``dataset_id`` identifying the source."""
    base = find_root(root)
    frames = [load(ds, table, root=base) for ds in built_datasets(base)]
    if not frames:
        raise MosaiqError("no dataset is built here: run `dvc repro` or `dvc pull`")
    shared = [c for c in frames[0].columns if all(c in f.columns for f in frames[1:])]
    return pd.concat([f[shared] for f in frames], ignore_index=True)
