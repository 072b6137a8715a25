"""Deterministic, atomic writing and schema-typed reading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mosaiq.errors import MosaiqError
from mosaiq.package import _float_texts, read_table, table_to_csv, write_files_atomically

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


@pytest.mark.parametrize("rows", [0, 1, 7, 45_001])
def test_csv_bytes_are_those_of_pandas_to_csv(rows: int):
    """The writer gives the bytes pandas' to_csv gives for the same typed, sorted table."""
    rng = np.random.default_rng(rows)
    texts = np.array(
        ["plain", 'with "quotes"', "a, comma", "line\nbreak", "cr\rhere", " space", "é", ""]
    )
    numbers = rng.normal(size=rows) * 10.0 ** rng.integers(-8, 9, size=rows)
    numbers[rng.random(rows) < 0.2] = np.nan
    numbers[rng.random(rows) < 0.05] = -0.0  # formatted by value: -0.0 is not 0.0
    numbers[rng.random(rows) < 0.05] = 0.0
    df = pd.DataFrame(
        {
            "key": [f"k{i:06d}" for i in range(rows)],
            "text": pd.array(rng.choice(texts, size=rows), dtype="string"),
            "number": numbers,
            "empty": np.full(rows, np.nan),
            "count": pd.array(rng.integers(-5, 5, size=rows), dtype="Int64"),
            "flag": pd.array(rng.random(rows) < 0.5, dtype="boolean"),
        }
    )
    if rows:
        df.loc[df.index[::3], "text"] = pd.NA
        df.loc[df.index[::4], "count"] = pd.NA
        df.loc[df.index[::5], "flag"] = pd.NA
    kinds = {"key": "string", "text": "string", "number": "number", "empty": "number"}
    kinds |= {"count": "integer", "flag": "boolean"}
    schema = {
        "fields": [{"name": n, "type": t} for n, t in kinds.items()],
        "primaryKey": ["key"],
    }
    reference = df.copy()
    reference["flag"] = reference["flag"].map({True: "true", False: "false"}).astype("string")
    expected = reference.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")
    assert table_to_csv(df.sample(frac=1, random_state=1), schema) == expected


def test_float_text_is_python_repr_for_every_kind_of_double():
    """Arrow's shortest digits with the fix-ups give ``repr`` exactly: integral values,
    signed zeros, the notation thresholds (1e-4, 1e16), subnormals, infinities, NaN (empty),
    random bit patterns and values from every decade."""
    rng = np.random.default_rng(12)
    edges = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        123.0,
        0.1,
        1e-4,
        -1e-4,
        9.99e-5,
        1e-5,
        1e15,
        1e16,
        9999999999999998.0,
        1e21,
        1e22,
        5e-324,
        2.2250738585072014e-308,
        1.7976931348623157e308,
        np.inf,
        -np.inf,
        np.nan,
        100000.0,
        0.30000000000000004,
    ]
    values = np.concatenate(
        [
            np.array(edges),
            rng.integers(0, 2**64, 200_000, dtype=np.uint64).view(np.float64),
            rng.normal(size=200_000) * 10.0 ** rng.integers(-20, 25, size=200_000),
            np.round(rng.random(200_000) * 100, 2),
            rng.integers(-(10**17), 10**17, 100_000).astype(np.float64),
        ]
    )
    expected = ["" if v != v else repr(v) for v in values.tolist()]
    assert _float_texts(values).to_pylist() == expected
    assert _float_texts(values[:10]).to_pylist() == expected[:10]  # the few-values path


def test_yaml_text_is_that_of_the_python_emitter(repo: Path):
    import yaml

    from mosaiq.package import yaml_bytes

    schemas = sorted(repo.glob("datasets/*/schemas/*.yaml"))
    for path in [*schemas, repo / "catalogue/sources.yaml"]:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data = {"unicode": "é – ∑ “quotes”", "long": "word " * 60, "data": data}
        expected = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
        assert yaml_bytes(data) == expected.encode("utf-8"), path
