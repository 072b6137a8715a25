"""Feature records and the arrays they point to.

Each feature definition of a dataset has a record file ``datasets/<DS>/features/<name>.csv``
(FeatureRecord rows, in git) and an array folder ``datasets/<DS>/features/<name>/`` (DVC cache
and remote). ``mosaiq features collect <DS>`` merges the record files into the package's
``data/features.csv``.

Values are stored by a :class:`ValueStore`: an :class:`ArrayStore` for vectors, a
:class:`JsonStore` for JSON objects (named values, summaries). Array layouts (``clip.storage``):

- ``shards`` (default): one ``.npy`` matrix per checkpoint of a run, named by the hash of its
  bytes; a record points to its shard and row. Thousands of clips make a handful of files, which
  is what makes ``dvc push``/``pull`` fast (see the README's measurements);
- ``npy``: one ``.npy`` vector per clip, named by clip ID;
- ``base64``: no file; the little-endian bytes in ``feature_value_json``.

JSON values are inline in ``feature_value_json`` when small, otherwise a file per clip.

The record schema is the one the build wrote into the package (its descriptor and schemas on
disk); nothing here rebuilds it.

Every file is written under a temporary name and renamed into place; the record file is
rewritten atomically after its arrays, so an interrupted run leaves either a record with its
array or an unreferenced array (deleted by the next run), never a record without its array.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.layout import package_dir, read_descriptor
from mosaiq.package import read_table, table_to_csv, write_files_atomically
from mosaiq.settings import read_yaml

LAYOUTS = ("shards", "npy", "base64")
DTYPES = ("float16", "float32", "float64")
FEATURES_DIR = "features"


dataset_dir = package_dir


def records_path(root: Path, dataset: str, name: str) -> Path:
    return dataset_dir(root, dataset) / FEATURES_DIR / f"{name}.csv"


def feature_schema(root: Path, dataset: str) -> dict[str, Any]:
    """The FeatureRecord schema of the built package, as written on disk."""
    descriptor = read_descriptor(root, dataset)
    if descriptor is None:
        raise MosaiqError(
            f"{dataset} is not built here: run `mosaiq build {dataset}` "
            f"or `dvc pull datasets/{dataset}`"
        )
    resources = {r["name"]: r for r in descriptor.get("resources", [])}
    if "features" not in resources or "schema" not in resources["features"]:
        raise MosaiqError(f"{dataset}/datapackage.yaml: no features resource with a schema")
    schema: dict[str, Any] = read_yaml(dataset_dir(root, dataset) / resources["features"]["schema"])
    return schema


def read_records(root: Path, dataset: str, name: str) -> pd.DataFrame:
    schema = feature_schema(root, dataset)
    path = records_path(root, dataset, name)
    if path.is_file():
        return read_table(path, schema)
    cols = [f["name"] for f in schema["fields"]]
    return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})


def record_keys(
    dataset: str,
    clip_id: str,
    name: str,
    feature_type: str,
    definition_id: str,
    modality: str = "visual",
) -> dict[str, Any]:
    """The fields that identify a feature record (the same for every feature)."""
    return {
        "feature_id": f"{clip_id}:{name}:{definition_id}",
        "dataset_id": dataset,
        "clip_id": clip_id,
        "feature_type": feature_type,
        "feature_name": name,
        "definition_id": definition_id,
        "source_modality": modality,
    }


def records_bytes(root: Path, dataset: str, records: pd.DataFrame) -> bytes:
    """Records as CSV; fields a feature does not use are written empty."""
    schema = feature_schema(root, dataset)
    extra = sorted(set(records.columns) - {f["name"] for f in schema["fields"]})
    if extra:
        raise MosaiqError(f"{dataset}/features: fields not in the FeatureRecord schema: {extra}")
    records = records.reindex(columns=[f["name"] for f in schema["fields"]])
    return table_to_csv(records, schema, table=f"{dataset}/features")


def write_records(root: Path, dataset: str, name: str, records: pd.DataFrame) -> None:
    write_files_atomically(
        {records_path(root, dataset, name): records_bytes(root, dataset, records)}
    )


def collect(root: Path, dataset: str) -> tuple[Path, int]:
    """Merge every record file of the dataset into ``data/features.csv``."""
    folder = dataset_dir(root, dataset) / FEATURES_DIR
    frames = [read_records(root, dataset, p.stem) for p in sorted(folder.glob("*.csv"))]
    frames = [f for f in frames if not f.empty]
    schema = feature_schema(root, dataset)
    merged = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame({f["name"]: pd.Series(dtype="object") for f in schema["fields"]})
    )
    duplicated = merged["feature_id"].duplicated()
    if duplicated.any():
        raise MosaiqError(
            f"{dataset}: feature_id {merged.loc[duplicated, 'feature_id'].iloc[0]} "
            "is in two record files"
        )
    target = dataset_dir(root, dataset) / "data" / "features.csv"
    write_files_atomically({target: table_to_csv(merged, schema, table=f"{dataset}/features")})
    return target, len(merged)


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def vector_checksum(vector: np.ndarray) -> str:
    v = np.ascontiguousarray(vector, dtype=vector.dtype.newbyteorder("<"))
    return hashlib.sha256(v.tobytes()).hexdigest()


def _safe_name(clip_id: str) -> str:
    return clip_id.replace(os.sep, "_").replace("/", "_")


class ValueStore(Protocol):
    """Where a feature's values go; ``put_values`` returns the record fields of each value."""

    folder: Path
    indexed: bool  # the folder is a DVC output: it keeps an index so it is never empty

    def put_values(
        self, clip_ids: Sequence[str], values: Sequence[Any]
    ) -> list[dict[str, Any]]: ...

    def remove_unreferenced(self, referenced: set[str]) -> list[Path]: ...


# Every value folder holds this small index, so that a DVC output with no values yet is never an
# empty directory (which DVC warns about on every run). It holds no feature value.
FOLDER_INDEX = "README.md"


def folder_index_text(name: str) -> str:
    """The index of the value folder ``features/<name>/`` (the same text for every dataset)."""
    return (
        f"# {name}\n\n"
        f"Stored values of the `{name}` feature. Each row of `../{name}.csv` names its file here\n"
        "(`feature_path`); values small enough are inline in that file instead. This index is\n"
        "not a value: it keeps the folder (a DVC output) from being empty.\n"
    )


def write_folder_index(folder: Path) -> None:
    """Write the folder's index unless it is already there with the same text."""
    path = folder / FOLDER_INDEX
    text = folder_index_text(folder.name)
    if not path.is_file() or path.read_text() != text:
        write_files_atomically({path: text.encode()})


def _remove_unreferenced(folder: Path, name: str, referenced: set[str]) -> list[Path]:
    """Delete files of ``folder`` that no record refers to (left by an interrupted run); the
    folder's index stays."""
    removed = []
    if folder.is_dir():
        for path in folder.iterdir():
            rel = f"{FEATURES_DIR}/{name}/{path.name}"
            if path.is_file() and path.name != FOLDER_INDEX and rel not in referenced:
                path.unlink()
                removed.append(path)
    return removed


class ArrayStore:
    """Writes vectors in one layout and reads them back from a record."""

    def __init__(self, base: Path, name: str, layout: str, dtype: str) -> None:
        if layout not in LAYOUTS:
            raise MosaiqError(f"clip.storage {layout!r} is not one of {LAYOUTS}")
        if dtype not in DTYPES:
            raise MosaiqError(f"clip.dtype {dtype!r} is not one of {DTYPES}")
        self.base, self.name, self.layout, self.dtype = base, name, layout, np.dtype(dtype)
        self.folder = base / FEATURES_DIR / name
        self.indexed = True

    def put_values(self, clip_ids: Sequence[str], values: Sequence[Any]) -> list[dict[str, Any]]:
        """Store one vector per clip (all of one length); their record fields."""
        located = self.put(clip_ids, np.stack([np.asarray(v) for v in values]))
        return [
            {"feature_dimension": int(np.shape(v)[-1]), "dtype": str(self.dtype), **where}
            for v, where in zip(values, located, strict=True)
        ]

    def put(self, clip_ids: Sequence[str], vectors: np.ndarray) -> list[dict[str, Any]]:
        """Store the vectors (one per clip); the record fields that locate each one."""
        data = np.asarray(vectors, dtype=self.dtype)
        self.folder.mkdir(parents=True, exist_ok=True)
        rel = f"{FEATURES_DIR}/{self.name}"
        out: list[dict[str, Any]] = []
        if self.layout == "shards":
            payload = _npy_bytes(data)
            fname = f"shard-{hashlib.sha256(payload).hexdigest()[:16]}.npy"
            write_files_atomically({self.folder / fname: payload})
            for row, (_cid, vec) in enumerate(zip(clip_ids, data, strict=True)):
                out.append(
                    {
                        "value_format": "array_shard",
                        "feature_path": f"{rel}/{fname}",
                        "feature_row": row,
                        "checksum": vector_checksum(vec),
                    }
                )
        elif self.layout == "npy":
            files = {}
            for cid, vec in zip(clip_ids, data, strict=True):
                fname = f"{_safe_name(cid)}.npy"
                files[self.folder / fname] = _npy_bytes(vec)
                out.append(
                    {
                        "value_format": "array",
                        "feature_path": f"{rel}/{fname}",
                        "checksum": vector_checksum(vec),
                    }
                )
            write_files_atomically(files)
        else:
            for vec in data:
                le = np.ascontiguousarray(vec, dtype=vec.dtype.newbyteorder("<"))
                value = {
                    "dtype": str(self.dtype),
                    "shape": list(vec.shape),
                    "base64": base64.b64encode(le.tobytes()).decode("ascii"),
                }
                out.append(
                    {
                        "value_format": "base64",
                        "feature_value_json": json.dumps(value, separators=(",", ":")),
                        "checksum": vector_checksum(vec),
                    }
                )
        return out

    def remove_unreferenced(self, referenced: set[str]) -> list[Path]:
        """Delete array files that no record refers to (left by an interrupted run)."""
        return _remove_unreferenced(self.folder, self.name, referenced)


class JsonStore:
    """JSON objects (named values, summaries): inline in ``feature_value_json`` up to
    ``inline_bytes`` characters, otherwise one file per clip. ``dimension`` gives a value's
    ``feature_dimension`` (by default its number of keys)."""

    def __init__(
        self,
        base: Path,
        name: str,
        inline_bytes: int,
        dimension: Callable[[Mapping[str, Any]], int | None] = len,
        indexed: bool = True,
    ) -> None:
        self.base, self.name, self.inline_bytes, self.dimension = (
            base,
            name,
            inline_bytes,
            dimension,
        )
        self.folder = base / FEATURES_DIR / name
        self.indexed = indexed

    def put_values(self, clip_ids: Sequence[str], values: Sequence[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        files: dict[Path, bytes] = {}
        for cid, value in zip(clip_ids, values, strict=True):
            text = json.dumps(value, sort_keys=True, separators=(",", ":"))
            row: dict[str, Any] = {
                "value_format": "json",
                "feature_dimension": self.dimension(value),
                "checksum": hashlib.sha256(text.encode()).hexdigest(),
            }
            if len(text) <= self.inline_bytes:
                row["feature_value_json"] = text
            else:
                fname = f"{_safe_name(cid)}.json"
                files[self.folder / fname] = text.encode()
                row["feature_path"] = f"{FEATURES_DIR}/{self.name}/{fname}"
            out.append(row)
        if files:
            write_files_atomically(files)
        return out

    def remove_unreferenced(self, referenced: set[str]) -> list[Path]:
        return _remove_unreferenced(self.folder, self.name, referenced)


def load_vector(dataset_root: Path, record: pd.Series | dict[str, Any]) -> np.ndarray:
    """The stored vector of one record."""
    fmt = record["value_format"]
    if fmt == "base64":
        value = json.loads(record["feature_value_json"])
        raw = base64.b64decode(value["base64"])
        return np.frombuffer(raw, dtype=np.dtype(value["dtype"]).newbyteorder("<")).reshape(
            value["shape"]
        )
    path = dataset_root / str(record["feature_path"])
    array = np.load(path, allow_pickle=False)
    if fmt == "array_shard":
        return array[int(record["feature_row"])]
    return array
