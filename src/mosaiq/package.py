"""Deterministic, atomic writing and schema-typed reading of package files.

Writing rules (the same for every table of every dataset):

- columns in schema order, and exactly the schema's columns;
- rows sorted by the table's sort keys (its primary key unless told otherwise);
- numbers as the shortest text that reads back to the same double (Python's ``repr``), integers
  without a decimal point, booleans ``true``/``false``, missing values empty; UTF-8, ``\\n`` line
  ends;
- every file of a build is first written beside its target under a temporary name and only then
  renamed into place, so a build that fails leaves the previous files untouched.
"""

from __future__ import annotations

import csv
import glob
import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.schema import field_names, pandas_dtypes


def table_to_csv(
    df: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    sort_by: Sequence[str] | None = None,
    table: str = "table",
) -> bytes:
    """Render ``df`` as CSV bytes in the schema's column order and types, rows sorted."""
    names = field_names(schema)
    missing = [n for n in names if n not in df.columns]
    extra = [c for c in df.columns if c not in names]
    if missing or extra:
        raise MosaiqError(
            f"{table}: columns do not match the schema (missing: {missing or 'none'}; "
            f"not in schema: {extra or 'none'})"
        )
    # Column by column, without a sorted copy of the whole table: only the sort keys are
    # sorted, and each block of rows is taken in that order as it is written.
    columns = {
        name: pd.Series(_cast(df[name], dtype, table, name)).reset_index(drop=True)
        for name, dtype in pandas_dtypes(schema).items()
    }
    keys = list(sort_by or schema.get("primaryKey") or names[:1])
    order = (
        pd.DataFrame({k: columns[k] for k in keys})
        .sort_values(keys, kind="mergesort", na_position="first")
        .index.to_numpy()
    )
    buf = io.StringIO()
    # The standard library's writer, as pandas' to_csv uses it, fed cells as pandas renders them
    # (numbers with numpy's shortest repr, integers and text as they are, missing as empty),
    # a block of rows at a time: the same bytes, without pandas' per-chunk overhead.
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for start in range(0, len(order), _ROWS_PER_BLOCK):
        rows = order[start : start + _ROWS_PER_BLOCK]
        cells = (_csv_cells(columns[name].take(rows)) for name in names)
        writer.writerows(zip(*cells, strict=True))
    return buf.getvalue().encode("utf-8")


_ROWS_PER_BLOCK = 20_000


def _csv_cells(col: pd.Series) -> np.ndarray:
    """One column's cells as ``DataFrame.to_csv`` gives them to the csv writer."""
    if col.dtype == "float64":
        values = col.to_numpy()
        cells = np.full(len(values), "", dtype=object)
        present = ~np.isnan(values)
        if present.any():  # numpy's repr only for the numbers there are
            cells[present] = values[present].astype(str)
        return cells
    cells = np.asarray(col.array.astype(object))
    cells[np.asarray(col.isna())] = ""
    return cells


def _cast(col: pd.Series, dtype: str, table: str, name: str) -> pd.Series:
    if dtype != "boolean" and col.dtype == dtype:  # already as the schema says: no copy
        return col
    if dtype == "Int64":
        values = pd.to_numeric(col, errors="raise") if col.dtype == object else col
        arr = np.asarray(values, dtype=float)
        bad = ~np.isnan(arr) & (arr != np.round(arr))
        if bad.any():
            raise MosaiqError(f"{table}.{name}: non-integer values in an integer field")
        return values.astype("Int64")
    if dtype == "float64":
        return pd.to_numeric(col, errors="raise").astype("float64")
    if dtype == "boolean":
        b = col.astype("boolean")
        return b.map({True: "true", False: "false"}).astype("string")
    return col.astype("string")


def yaml_bytes(data: Any) -> bytes:
    import yaml

    # libyaml's emitter where it is built in (the same text, several times faster)
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=100)
    return text.encode("utf-8")


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporaries of ``path`` left by a writer that was killed (``kill -9``): those
    named ``.<name>.tmp-<pid>`` whose process no longer runs. (``.dvcignore`` also keeps DVC
    from hashing them.)"""
    removed = []
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.tmp-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def write_files_atomically(files: Mapping[Path, bytes]) -> list[Path]:
    """Write every file under a temporary name, then rename them all into place.

    Nothing is renamed unless every file was written; a failure removes the temporaries and
    leaves the existing files as they were. Files whose bytes are unchanged are not rewritten
    (their modification times stay, which keeps DVC and make-like tools quiet).
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path)
            if path.is_file() and path.read_bytes() == data:
                continue
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            with tmp.open("wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return [path for _, path in staged]


def read_table(path: Path, schema: Mapping[str, Any]) -> pd.DataFrame:
    """Read a package CSV with the pandas dtypes its schema declares."""
    dtypes = pandas_dtypes(schema)
    read_as = {n: ("string" if t == "boolean" else t) for n, t in dtypes.items()}
    df = pd.read_csv(path, dtype=read_as, keep_default_na=False, na_values=[""])
    for name, dtype in dtypes.items():
        if dtype == "boolean" and name in df.columns:
            df[name] = df[name].map({"true": True, "false": False}, na_action="ignore")
            df[name] = df[name].astype("boolean")
    return df
