"""Deterministic, atomic writing and schema-typed reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaiq.errors import MosaiqError
from mosaiq.package import read_table, table_to_csv, write_files_atomically

SCHEMA = {
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "x", "type": "number"},
        {"name": "ok", "type": "boolean"},
    ],
    "primaryKey": ["id"],
}


def test_schema_order_sorted_rows_and_fixed_formatting():
    df = pd.DataFrame(
        {
            "x": [0.1 + 0.2, np.nan, 2.0],
            "ok": [True, None, False],
            "n": [3, None, 1],
            "id": ["b", "c", "a"],
        }
    )
    text = table_to_csv(df, SCHEMA).decode()
    assert text == "id,n,x,ok\na,1,2.0,false\nb,3,0.30000000000000004,true\nc,,,\n"
    # the same frame in another row order gives the same bytes
    assert table_to_csv(df.iloc[::-1], SCHEMA).decode() == text


def test_columns_must_match_the_schema():
    df = pd.DataFrame({"id": ["a"], "n": [1], "x": [1.0]})
    with pytest.raises(MosaiqError, match=r"missing: \['ok'\]"):
        table_to_csv(df, SCHEMA)
    df = pd.DataFrame({"id": ["a"], "n": [1], "x": [1.0], "ok": [True], "extra": [1]})
    with pytest.raises(MosaiqError, match="not in schema"):
        table_to_csv(df, SCHEMA)
    df = pd.DataFrame({"id": ["a"], "n": [1.5], "x": [1.0], "ok": [True]})
    with pytest.raises(MosaiqError, match="non-integer"):
        table_to_csv(df, SCHEMA)


def test_round_trip_with_schema_dtypes(tmp_path: Path):
    df = pd.DataFrame({"id": ["a", "b"], "n": [1, None], "x": [1.5, np.nan], "ok": [True, None]})
    path = tmp_path / "t.csv"
    path.write_bytes(table_to_csv(df, SCHEMA))
    back = read_table(path, SCHEMA)
    assert str(back["n"].dtype) == "Int64"
    assert str(back["x"].dtype) == "float64"
    assert str(back["ok"].dtype) == "boolean"
    assert str(back["id"].dtype) == "string"
    assert back["n"].isna().tolist() == [False, True]
    assert back["ok"].tolist()[0] is True or back["ok"].tolist()[0] == True  # noqa: E712


def test_a_failed_write_leaves_every_previous_file_untouched(tmp_path: Path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("old a")
    b.write_text("old b")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory is needed")
    with pytest.raises(FileExistsError):
        write_files_atomically({a: b"new a", b: b"new b", blocker / "c.csv": b"c"})
    assert a.read_text() == "old a"
    assert b.read_text() == "old b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv", "blocker"]


def test_unchanged_files_are_not_rewritten(tmp_path: Path):
    a = tmp_path / "a.csv"
    write_files_atomically({a: b"same"})
    mtime = a.stat().st_mtime_ns
    assert write_files_atomically({a: b"same"}) == []
    assert a.stat().st_mtime_ns == mtime
    assert write_files_atomically({a: b"changed"}) == [a]
