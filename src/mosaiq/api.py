"""The Python entry points: tables of the built packages as typed DataFrames."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.layout import BUILT, how_to_get, package_dir, read_descriptor
from mosaiq.package import read_table
from mosaiq.settings import DATASETS, find_root, read_yaml

TABLES = ("clips", "responses", "exclusions", "features")


class NotBuilt(MosaiqError):
    """Data asked for that is not built here."""


def require_built(dataset: str, root: str | Path | None = None) -> None:
    """Raise NotBuilt (saying how to get it) unless ``dataset`` is built here."""
    base = find_root(root)
    if dataset not in DATASETS:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    descriptor = read_descriptor(base, dataset)
    status = (descriptor or {}).get("mosaiq", {}).get("build_status", "no package")
    if status != BUILT:
        raise NotBuilt(f"{dataset} is not built here ({status}): {how_to_get(dataset)}")


def load(
    dataset: str,
    table: str = "clips",
    *,
    root: str | Path | None = None,
    built_only: bool = True,
    **where: Any,
) -> pd.DataFrame:
    """A table of a built package, with the pandas dtypes its Frictionless schema declares.

    Keyword arguments named after columns keep the rows whose value is the one given, or one of
    a list of them (``LocationID=["CamdenTown", "PancrasLock"]``, ``language="eng"``).
    A dataset that is not built here raises :class:`NotBuilt`, which says how to get it
    (``built_only=False``: the package's empty, typed table instead).

    >>> clips = mosaiq.load("ISD", "clips")      # doctest: +SKIP
    """
    base = find_root(root)
    if dataset not in DATASETS:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    descriptor = read_descriptor(base, dataset)
    if descriptor is None or built_only:
        require_built(dataset, base)
    assert descriptor is not None
    resources = {r["name"]: r for r in descriptor["resources"]}
    if table not in resources:
        raise MosaiqError(f"{dataset} has no table {table!r}; tables: {', '.join(resources)}")
    pkg = package_dir(base, dataset)
    res = resources[table]
    frame = read_table(_inside(pkg, res, "path"), read_yaml(_inside(pkg, res, "schema")))
    return select(frame, where, f"{dataset} {table}") if where else frame


def select(frame: pd.DataFrame, where: dict[str, Any], what: str = "the table") -> pd.DataFrame:
    """The rows of ``frame`` whose column values match ``where`` (a value or a list of values per
    column), with a fresh index."""
    unknown = sorted(set(where) - set(frame.columns))
    if unknown:
        raise MosaiqError(
            f"{what} has no column {', '.join(map(repr, unknown))} to filter on; "
            f"columns: {', '.join(frame.columns)}"
        )
    keep = pd.Series(True, index=frame.index)
    for column, wanted in where.items():
        values = list(wanted) if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
        keep &= frame[column].isin(values).fillna(False).astype(bool)
    return frame[keep.to_numpy()].reset_index(drop=True)


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


def load_all(table: str = "clips", *, root: str | Path | None = None, **where: Any) -> pd.DataFrame:
    """One DataFrame across the built datasets: the columns every one of them has, in the
    order of the first, with ``dataset_id`` identifying the source (filtered as in
    :func:`load`, on the shared columns)."""
    base = find_root(root)
    frames = [load(ds, table, root=base) for ds in built_datasets(base)]
    if not frames:
        raise MosaiqError("no dataset is built here: run `dvc repro` or `dvc pull`")
    shared = [c for c in frames[0].columns if all(c in f.columns for f in frames[1:])]
    out = pd.concat([f[shared] for f in frames], ignore_index=True)
    return select(out, where, f"the shared {table} columns") if where else out
