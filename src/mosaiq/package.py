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
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mosaiq.errors import MosaiqError
from mosaiq.schema import field_names, pandas_dtypes


def table_to_csv(
    df: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    sort_by: Sequence[str] | None = None,
    table: str = "table",
    empty: Collection[str] = (),
) -> bytes:
    """Render ``df`` as CSV bytes in the schema's column order and types, rows sorted.

    ``empty`` names schema columns that hold no value in any row: they are not in ``df`` (or
    are, all missing) and are written as empty cells without ever being materialised.
    """
    return b"".join(table_csv_chunks(df, schema, sort_by=sort_by, table=table, empty=empty))


def table_csv_chunks(
    df: pd.DataFrame,
    schema: Mapping[str, Any],
    *,
    sort_by: Sequence[str] | None = None,
    table: str = "table",
    empty: Collection[str] = (),
) -> Iterator[bytes | memoryview]:
    """The bytes of :func:`table_to_csv`, a block of rows at a time (the header first): a
    writer that streams them holds one block, never the whole file."""
    names = field_names(schema)
    blank = set(empty)
    missing = [n for n in names if n not in df.columns and n not in blank]
    extra = [c for c in df.columns if c not in names]
    if missing or extra:
        raise MosaiqError(
            f"{table}: columns do not match the schema (missing: {missing or 'none'}; "
            f"not in schema: {extra or 'none'})"
        )
    dtypes = pandas_dtypes(schema)
    keys = list(sort_by or schema.get("primaryKey") or names[:1])
    absent_keys = [k for k in keys if k not in df.columns]
    if absent_keys:
        raise MosaiqError(f"{table}: sort keys {absent_keys} are declared empty")
    # Only the sort keys are sorted; every column is then formatted once, vectorised, and the
    # rows are joined by Arrow. A run of empty columns is one constant run of commas.
    order = (
        pd.DataFrame({k: _cast(df[k], dtypes[k], table, k).reset_index(drop=True) for k in keys})
        .sort_values(keys, kind="mergesort", na_position="first")
        .index.to_numpy()
    )
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(names)
    head = header.getvalue().encode("utf-8")
    if not len(df):
        yield head
        return
    if len(names) == 1:  # the csv module writes a lone empty cell as ""
        yield head + _csv_module_rows(df[names[0]], dtypes[names[0]], table, order)
        return
    columns: list[pd.Series | None] = [
        None
        if name not in df.columns or _is_null_column(df[name])
        else _cast(df[name], dtypes[name], table, name)
        for name in names
    ]
    # A block of rows at a time, so that Arrow's intermediate columns stay small.
    yield head
    for start in range(0, len(order), _ROWS_PER_BLOCK):
        yield _csv_block(columns, order[start : start + _ROWS_PER_BLOCK])


_ROWS_PER_BLOCK = 16_384


def _csv_block(columns: list[pd.Series | None], rows: np.ndarray) -> memoryview:
    """The CSV lines of ``rows`` (positions in the columns; ``None`` is an empty column), each
    column formatted vectorised and the lines joined by Arrow; a run of empty columns is one
    constant run of commas."""
    segments: list[pa.Array | pa.Scalar] = []
    run = 0
    for col in columns:
        if col is None:
            run += 1
            continue
        if run:
            segments.append(_text("," * (run - 1)))
            run = 0
        segments.append(_csv_cells(col, rows))
    if run:
        segments.append(_text("," * (run - 1)))
    if not any(isinstance(s, pa.Array) for s in segments):
        return memoryview((("," * (len(columns) - 1) + "\n") * len(rows)).encode("utf-8"))
    # the line end goes on the last segment, so that the lines are built in one pass
    last = segments[-1]
    if isinstance(last, pa.Array):
        segments[-1] = pc.binary_join_element_wise(last, _text("\n"), _text(""))
    else:
        segments[-1] = _text(last.as_py() + "\n")
    lines = pc.binary_join_element_wise(*segments, _text(","))
    return _string_bytes(lines)


def _csv_module_rows(col: pd.Series, dtype: str, table: str, order: np.ndarray) -> bytes:
    cells = _csv_cells(_cast(col, dtype, table, str(col.name)), order).to_pylist()
    return "".join((c or '""') + "\n" for c in cells).encode("utf-8")


_NEEDS_QUOTES = '[",\n]'


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def empty_columns(df: pd.DataFrame) -> list[str]:
    """The columns of ``df`` of Arrow's null type: declared empty, they hold no buffer."""
    return [str(c) for c in df.columns if _is_null_column(df[c])]


def _is_null_column(col: pd.Series) -> bool:
    """A column of Arrow's null type: declared empty, holds nothing."""
    return isinstance(col.dtype, pd.ArrowDtype) and pa.types.is_null(col.dtype.pyarrow_dtype)


def _string_bytes(arr: pa.Array) -> memoryview:
    """The concatenated values of a large_string array without nulls (a view, no copy)."""
    _validity, offsets, data = arr.buffers()
    ends = np.frombuffer(offsets, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    return memoryview(data)[int(ends[0]) : int(ends[-1])]


def _csv_cells(col: pd.Series, order: np.ndarray) -> pa.Array:
    """One column's cells, in ``order``, as ``DataFrame.to_csv`` writes them: numbers with
    the shortest repr, integers and text as they are, text quoted where the csv module
    quotes it (a delimiter, a quote or the line terminator in it), missing values empty."""
    if col.dtype == "float64":
        values = col.to_numpy()[order]
        # Each distinct value (by its bits: -0.0 is not 0.0) is formatted once.
        codes, bits = pd.factorize(values.view(np.int64))
        return _float_texts(bits.view(np.float64)).take(pa.array(codes))
    if col.dtype == "Int64":
        ints = pa.array(col.array, pa.int64()).take(pa.array(order))
        return pc.fill_null(pc.cast(ints, pa.large_string()), "")
    # pandas' own text array (str and NA, which Arrow reads as null) where it has one: no
    # missing-value pass over the column.
    stored = getattr(col.array, "_ndarray", None) if isinstance(col.dtype, pd.StringDtype) else None
    if isinstance(stored, np.ndarray) and stored.dtype == object:
        objects = stored[order]
    else:
        objects = col.to_numpy(dtype=object, na_value=None)[order]  # type: ignore[call-overload]
    text = pa.array(objects, pa.large_string(), from_pandas=True)
    if not _has_special_bytes(text):  # most columns: one scan of the bytes decides
        return pc.fill_null(text, "")
    quote = pc.match_substring_regex(text, _NEEDS_QUOTES)
    if pc.any(quote).as_py():
        quote_mark = _text('"')
        escaped = pc.replace_substring(text, '"', '""')
        quoted = pc.binary_join_element_wise(quote_mark, escaped, quote_mark, _text(""))
        text = pc.if_else(quote, quoted, text)
    return pc.fill_null(text, "")


_FEW_VALUES = 256
"""Below this many distinct values, ``repr`` each; above, Arrow's cast (the fewer calls win)."""


def _float_texts(values: np.ndarray) -> pa.Array:
    """Python's ``repr`` of each value (NaN: empty), vectorised.

    Arrow's cast gives the same shortest round-trip digits as ``repr``, but it writes an
    integral value without ``.0`` and picks scientific notation by its own rule: so its text is
    taken where ``repr`` is positional (1e-4 <= |v| < 1e16) and Arrow's is too (no ``e``),
    with ``.0`` added where it has no point; every other value is given to ``repr``."""
    if len(values) < _FEW_VALUES:
        return pa.array(["" if v != v else repr(v) for v in values.tolist()], pa.large_string())
    nan = np.isnan(values)
    text = pc.cast(pa.array(values, mask=nan if nan.any() else None), pa.large_string())
    with np.errstate(invalid="ignore"):
        size = np.abs(values)
        other = ((size < 1e-4) & (size != 0)) | (size >= 1e16)  # infinities too
    other |= pc.fill_null(pc.match_substring(text, "e"), False).to_numpy(zero_copy_only=False)
    point = pc.fill_null(pc.match_substring(text, "."), True)
    text = pc.if_else(point, text, pc.binary_join_element_wise(text, _text(".0"), _text("")))
    if other.any():
        exact = [repr(v) for v in values[other].tolist()]
        text = pc.replace_with_mask(text, pa.array(other), pa.array(exact, pa.large_string()))
    return pc.fill_null(text, "")


def _has_special_bytes(text: pa.Array) -> bool:
    """Whether any value of a fresh large_string array holds a quote, a comma or a line feed
    (a scan of its data buffer: no byte of a multi-byte UTF-8 character is one of those)."""
    _validity, offsets, data = text.buffers()
    if data is None or not len(text):
        return False
    used = np.frombuffer(offsets, dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    raw = np.frombuffer(data, dtype=np.uint8)[int(used[0]) : int(used[-1])]
    return bool(((raw == ord('"')) | (raw == ord(",")) | (raw == ord("\n"))).any())


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


Content = bytes | Callable[[], bytes | Iterable[bytes | memoryview]]
"""A file's bytes, or a function that renders them: whole, or as an iterable of chunks."""


def write_files_atomically(files: Mapping[Path, Content]) -> list[Path]:
    """Write every file under a temporary name, then rename them all into place.

    A file's content may be given as a function that renders it: it is called when that file
    is staged, so that only one rendered file is held in memory at a time; a function that
    returns chunks (an iterable of bytes) is streamed to disk, one chunk held at a time.

    Nothing is renamed unless every file was written; a failure removes the temporaries and
    leaves the existing files as they were. Files whose bytes are unchanged are not rewritten
    (their modification times stay, which keeps DVC and make-like tools quiet).
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, content in files.items():
            data = content() if callable(content) else content
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path)
            chunks: Iterable[bytes | memoryview]
            if isinstance(data, bytes | bytearray | memoryview):
                same = path.is_file() and path.stat().st_size == len(data)
                if same and path.read_bytes() == data:
                    continue
                chunks, streamed = (bytes(data),), False
            else:
                chunks, streamed = data, True
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            try:
                with tmp.open("wb") as fh:
                    for chunk in chunks:
                        fh.write(chunk)
                    fh.flush()
                    if streamed and _same_bytes(tmp, path):
                        tmp.unlink()
                        continue
                    os.fsync(fh.fileno())
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            staged.append((tmp, path))
    except BaseException:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
        raise
    for tmp, path in staged:
        os.replace(tmp, path)
    return [path for _, path in staged]


def _same_bytes(a: Path, b: Path, block: int = 1 << 20) -> bool:
    """Whether the files ``a`` and ``b`` hold the same bytes (``b`` may be absent)."""
    if not b.is_file() or a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(block), fb.read(block)
            if x != y:
                return False
            if not x:
                return True


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
