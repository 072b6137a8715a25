"""The Python entry points: tables of the built packages as typed DataFrames."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

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
    return read_table(_inside(pkg, res, "path"), read_yaml(_inside(pkg, res, "schema")))


def _inside(pkg: Path, resource: dict, key: str) -> Path:
    """A resource's file, refused when the descriptor points outside the package (absolute,
    ``..``, or a symbolic link that leaves it)."""
    value = resource.get(key)
    where = f"{pkg / 'datapackage.yaml'}: resource {resource.get('name')!r} {key}"
    if not isinstance(value, str) or not value:
        raise MosaiqError(f"{where} is not a file path")
    rel = PurePosixPath(value.replace("\\", "/"))
    if rel.is_absolute() or Path(value).is_absolute() or ".." in rel.parts:
        raise MosaiqError(f"{where} {value!r} is absolute or climbs out of the package; refused")
    target = pkg / value
    if not target.resolve().is_relative_to(pkg.resolve()):
        raise MosaiqError(f"{where} {value!r} is a link that leaves the package; refused")
    return target


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
