"""The fast paths of a build give the same bytes as the plain ones, on the real tables.

A build parses number columns as the CSV is read (``read_source``) and writes each table with
the vectorised writer; here every table of every dataset is also produced from the all-text read
and written by pandas' ``to_csv``, and the bytes must be equal.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mosaiq.build import _harmonise, schemas_for, table_specs
from mosaiq.package import _cast, table_to_csv
from mosaiq.schema import field_names, pandas_dtypes
from mosaiq.settings import load_params
from mosaiq.sources import source
from mosaiq.sources.base import numeric, read_csv_text, read_source, typed_reads
from tests.conftest import copy_project, point_at_shared_data


def _pandas_csv(df: pd.DataFrame, schema: dict, sort_by: list[str] | None) -> bytes:
    """The table as pandas' to_csv writes it: schema columns and types, rows sorted."""
    dtypes = pandas_dtypes(schema)
    full = pd.DataFrame(
        {
            n: _cast(df[n], dtypes[n], "t", n).reset_index(drop=True)
            if n in df.columns
            else pd.Series(float("nan"), index=range(len(df)))
            for n in field_names(schema)
        }
    )
    keys = list(sort_by or schema["primaryKey"])
    full = full.sort_values(keys, kind="mergesort", na_position="first")
    return full.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


@pytest.mark.parametrize("dataset", ["ISD", "ARAUS", "SATP", "DeLTA"])
def test_typed_read_and_fast_writer_give_the_plain_bytes(
    dataset: str, tmp_path: Path, shared_data: Path
) -> None:
    root = copy_project(tmp_path / "project")
    point_at_shared_data(root, shared_data)
    params = load_params(root)
    declared = source(dataset)
    typed = read_source(declared, root, params)
    text = declared.read(root, params)
    fast = _harmonise(root, declared, typed, params)
    plain = _harmonise(root, declared, text, params)
    schemas = schemas_for(root, declared, params)
    specs = table_specs(declared)
    for name, df in fast.tables.items():
        written = table_to_csv(
            df, schemas[name], sort_by=specs[name].sort_by, empty=fast.empty.get(name, ())
        )
        reference = _pandas_csv(plain.tables[name], schemas[name], specs[name].sort_by)
        assert written == reference, f"{dataset}/{name}"


def test_typed_read_parses_the_same_doubles_and_falls_back_to_text(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("id,x,y\na, 0.1 ,3\nb,,1e-5\nc,2.675,7\n")
    with typed_reads():
        typed = read_csv_text(path, numbers=["x", "y"])
    text = read_csv_text(path, numbers=["x", "y"])  # outside typed_reads: all text
    assert typed["x"].dtype == "float64" and typed["id"].dtype == object
    assert text["x"].dtype == object
    for col in ("x", "y"):
        a = numeric(typed, [col], file="raw.csv")[col].to_numpy()
        b = numeric(text, [col], file="raw.csv")[col].to_numpy()
        assert (a.view("i8") == b.view("i8")).all()
    path.write_text("id,x\na,1\nb,one\n")
    with typed_reads():
        fallback = read_csv_text(path, numbers=["x"])
    assert fallback["x"].tolist() == ["1", "one"]


def test_clip_means_join_gives_the_merge_frame() -> None:
    """The lookup join of clip means equals pandas' inner merge (plus the constant columns):
    columns, dtypes and order; a clip without means is left out; duplicate IDs fall back to
    the merge itself."""
    from mosaiq.build import _with_means

    clips = pd.DataFrame(
        {
            "clip_id": ["c3", "c1", "c2", "c4"],
            "fold": pd.array([1, None, 2, 3], dtype="Int64"),
            "note": pd.array(["a", None, "b", "c"], dtype="string"),
        }
    )
    means = pd.DataFrame(
        {
            "clip_id": ["c1", "c2", "c3"],
            "n_responses": [2, 1, 5],
            "mean_x": pd.array([0.5, None, 1.25], dtype="Float64"),
            "mean_y": [0.1, 0.2, float("nan")],
        }
    )
    expected = clips.merge(means, on="clip_id", how="inner").assign(licence_spdx="CC-BY-4.0")
    joined = _with_means(clips, means, licence_spdx="CC-BY-4.0")
    pd.testing.assert_frame_equal(joined, expected)
    assert list(joined["clip_id"]) == ["c3", "c1", "c2"]
    twice = pd.concat([clips, clips.iloc[[0]]], ignore_index=True)
    pd.testing.assert_frame_equal(
        _with_means(twice, means), twice.merge(means, on="clip_id", how="inner")
    )
