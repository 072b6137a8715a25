"""Vectorised Table Schema checks: what Frictionless checks cell by cell, column by column.

Driven by the same Table Schemas as Frictionless, and reporting the same errors at the same
places (file, row as Frictionless numbers it - header = row 1 -, field), with Frictionless's
error codes:

- ``type-error``: a cell that does not parse as its field's type (integer, number, boolean);
- ``constraint-error``: ``required``, ``minimum``, ``maximum``, ``exclusiveMinimum``,
  ``exclusiveMaximum``, ``enum``, ``pattern``, ``minLength``, ``maxLength`` (a cell with a type
  error is not checked further, as in Frictionless);
- ``unique-error`` and ``primary-key``: a value (or key) already seen in an earlier row, compared
  as typed values; ``primary-key`` also for a row whose key cells are all empty;
- ``foreign-key``: a key that is not in the referenced table of the same package;
- ``blank-row``: every cell empty (then only this error, and the primary-key one);
- ``extra-cell`` / ``missing-cell``: a row wider or narrower than the header;
- ``incorrect-label`` / ``missing-label`` / ``extra-label``: a header that is not the schema's
  field names in order (the table is then not checked further).

The file is read once by Arrow's CSV reader (every column as text) and each check is one array
operation over a column. Rows of the wrong width are the only ones handled one by one. A table
whose cells all parse comes back typed as :func:`mosaiq.package.read_table` types it, so that later
checks need not read it again.

What this does not check, Frictionless still does (``frictionless validate datapackage.yaml``
passes on every package; the tests hold the two to the same findings).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

from mosaiq.settings import read_yaml

TRUE_VALUES = ("true", "True", "TRUE", "1")
FALSE_VALUES = ("false", "False", "FALSE", "0")
_NAN_TEXT = re.compile(r"^\s*[+-]?(nan|inf|infinity)\s*$", re.IGNORECASE)
_INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
MAX_PER_CHECK = 1000
"""At most this many problems of one kind per field are reported (a broken column is one error
repeated; the first ones say where)."""


@dataclass(frozen=True)
class Problem:
    code: str
    row: int | None
    field: str | None
    message: str


@dataclass
class Checked:
    """One resource: its data rows, its problems, and the table typed by its schema (``None``
    when a cell does not parse or the header is not the schema's)."""

    rows: int
    problems: list[Problem] = field(default_factory=list)
    table: pd.DataFrame | None = None


@dataclass
class _Column:
    text: pa.ChunkedArray
    values: Any  # typed pandas Series; cells with a type error are missing
    bad: np.ndarray  # bool: cell does not parse


def check_package(descriptor: Path) -> dict[str, Checked]:
    """Check every resource of the package at ``descriptor``; foreign keys are resolved in it."""
    base = descriptor.parent
    resources = read_yaml(descriptor).get("resources", [])
    schemas = {r["name"]: read_yaml(base / r["schema"]) for r in resources}
    # Only the columns of foreign keys (either end) are kept for the second pass.
    needed: dict[str, set[str]] = {r["name"]: set() for r in resources}
    for res in resources:
        for fk in schemas[res["name"]].get("foreignKeys", []):
            target = fk["reference"].get("resource") or res["name"]
            needed[res["name"]].update(_names(fk["fields"]))
            needed.setdefault(target, set()).update(_names(fk["reference"]["fields"]))
    parsed: dict[str, tuple[Checked, dict[str, _Column], np.ndarray]] = {}
    for res in resources:
        checked, columns, numbers = _check_resource(base / res["path"], schemas[res["name"]])
        keep = {k: v for k, v in columns.items() if k in needed[res["name"]]}
        parsed[res["name"]] = (checked, keep, numbers)
        del columns
    for res in resources:
        checked, columns, numbers = parsed[res["name"]]
        for fk in schemas[res["name"]].get("foreignKeys", []):
            target = fk["reference"].get("resource") or res["name"]
            if target not in parsed or not columns:
                continue
            checked.problems.extend(_foreign_key(columns, numbers, fk, parsed[target][1], target))
        checked.problems.sort(key=lambda p: (p.row or 0, _order(p.code)))
    return {name: parsed[name][0] for name in parsed}


def _names(fields: str | Sequence[str]) -> list[str]:
    return [fields] if isinstance(fields, str) else list(fields)


_CODE_ORDER = ("type-error", "constraint-error", "extra-cell", "missing-cell", "blank-row")


def _order(code: str) -> int:
    return _CODE_ORDER.index(code) if code in _CODE_ORDER else len(_CODE_ORDER)


def _read_text(path: Path, names: Sequence[str], missing: Sequence[str]) -> tuple[pa.Table, list]:
    """Every column as text; rows of the wrong width come back separately, with numbers."""
    invalid: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        invalid.append((row.number, row.text))
        return "skip"

    def read(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=use_threads, encoding="utf8"),
            parse_options=pacsv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=list(missing),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    table = read(True)
    if invalid and any(n is None for n, _ in invalid):
        invalid.clear()  # row numbers are only known when the file is read in one thread
        table = read(False)
    return table, invalid


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as fh:
        return next(csv.reader(fh), [])


def _check_resource(
    path: Path, schema: Mapping[str, Any]
) -> tuple[Checked, dict[str, _Column], np.ndarray]:
    fields = list(schema["fields"])
    names = [f["name"] for f in fields]
    missing_values = list(schema.get("missingValues", [""]))
    labels = _header(path)
    problems = _label_problems(labels, names)
    if problems:
        return Checked(0, problems), {}, np.zeros(0, dtype=np.int64)
    table, invalid = _read_text(path, names, missing_values)
    n = table.num_rows
    numbers = np.arange(2, n + 2, dtype=np.int64)
    if invalid:
        table, numbers, width_problems = _merge_invalid(table, invalid, names, missing_values)
        problems.extend(width_problems)
    columns = {f["name"]: _typed(table.column(f["name"]), f) for f in fields}
    blank = np.ones(len(numbers), dtype=bool)
    for col in columns.values():
        blank &= col.text.is_null().to_numpy(zero_copy_only=False)
    for f in fields:
        problems.extend(_cell_problems(columns[f["name"]], f, numbers, blank))
    problems.extend(_key_problems(columns, schema, numbers, blank))
    problems.extend(Problem("blank-row", int(r), None, "row is blank") for r in numbers[blank])
    typed = None
    if not any(col.bad.any() for col in columns.values()):
        typed = pd.DataFrame({name: col.values for name, col in columns.items()}, copy=False)
    return Checked(len(numbers), problems, typed), columns, numbers


def _label_problems(labels: list[str], names: list[str]) -> list[Problem]:
    problems = []
    for pos, name in enumerate(names):
        if pos >= len(labels):
            problems.append(Problem("missing-label", None, name, "label is missing"))
        elif labels[pos] != name:
            problems.append(
                Problem("incorrect-label", None, name, f"label is {labels[pos]!r}, not {name!r}")
            )
    problems.extend(
        Problem("extra-label", None, label, "label is not in the schema")
        for label in labels[len(names) :]
    )
    return problems


def _merge_invalid(
    table: pa.Table, invalid: list[tuple[int, str]], names: list[str], missing: Sequence[str]
) -> tuple[pa.Table, np.ndarray, list[Problem]]:
    """Put rows of the wrong width back in their place, padded or cut to the header's width."""
    width = len(names)
    problems: list[Problem] = []
    rows: list[list[str | None]] = []
    skipped = sorted(invalid)
    for number, text in skipped:
        cells = next(csv.reader(io.StringIO(text)), [])
        for pos in range(width, len(cells)):
            problems.append(Problem("extra-cell", number, "", f"extra cell in column {pos + 1}"))
        present = [None if c in missing else c for c in cells[:width]]
        if len(cells) < width and any(v is not None for v in present):
            problems.extend(
                Problem("missing-cell", number, name, "cell is missing")
                for name in names[len(cells) :]
            )
        rows.append(present + [None] * (width - len(present)))
    extra = pa.table(
        {name: pa.array([r[i] for r in rows], pa.string()) for i, name in enumerate(names)}
    )
    total = table.num_rows + len(rows)
    bad_numbers = np.array([n for n, _ in skipped], dtype=np.int64)
    good_numbers = np.setdiff1d(np.arange(2, total + 2, dtype=np.int64), bad_numbers)
    merged = pa.concat_tables([table.select(names), extra])
    numbers = np.concatenate([good_numbers, bad_numbers])
    order = np.argsort(numbers, kind="stable")
    return merged.take(pa.array(order)), numbers[order], problems


def _typed(text: pa.ChunkedArray, spec: Mapping[str, Any]) -> _Column:
    kind = spec.get("type", "string")
    present = text.is_valid().to_numpy(zero_copy_only=False)
    if kind in ("integer", "number"):
        target = pa.int64() if kind == "integer" else pa.float64()
        try:
            arrow = pc.cast(pc.utf8_trim_whitespace(text), target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            arrow = None
        if arrow is not None:
            values = arrow.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
            if kind == "number":
                values = values.astype("float64")
            return _Column(text, values.reset_index(drop=True), np.zeros(len(text), dtype=bool))
        strings = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
        if kind == "integer":
            ok = strings.str.match(_INTEGER_TEXT.pattern, na=False).to_numpy(dtype=bool)
            values = pd.Series(pd.NA, index=strings.index, dtype="Int64")
            values[ok] = pd.to_numeric(strings[ok]).astype("Int64")
        else:
            values = pd.to_numeric(strings, errors="coerce").astype("float64")
            nan_text = strings.str.match(_NAN_TEXT.pattern, na=False).to_numpy(dtype=bool)
            ok = ~np.isnan(values.to_numpy()) | nan_text
        return _Column(text, values, present & ~ok)
    if kind == "boolean":
        trues = list(spec.get("trueValues", TRUE_VALUES))
        falses = list(spec.get("falseValues", FALSE_VALUES))
        is_true = pc.is_in(text, pa.array(trues)).to_numpy(zero_copy_only=False)
        is_false = pc.is_in(text, pa.array(falses)).to_numpy(zero_copy_only=False)
        values = pd.array(np.where(is_true, True, False), dtype="boolean")
        values[~(is_true | is_false)] = pd.NA
        return _Column(text, pd.Series(values), present & ~(is_true | is_false))
    values = text.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    return _Column(text, values.reset_index(drop=True), np.zeros(len(text), dtype=bool))


def _places(
    mask: np.ndarray,
    numbers: np.ndarray,
    code: str,
    name: str | None,
    message: str,
    text: pa.ChunkedArray | None = None,
) -> list[Problem]:
    """A problem for each row in ``mask`` (the first :data:`MAX_PER_CHECK`); with ``text``, the
    message quotes the cell."""
    where = np.flatnonzero(mask)[:MAX_PER_CHECK]
    if text is None:
        return [Problem(code, int(numbers[i]), name, message) for i in where]
    cells = text.take(pa.array(where, pa.int64())).to_pylist() if len(where) else []
    return [
        Problem(code, int(numbers[i]), name, f"cell {'' if c is None else c!r}: {message}")
        for i, c in zip(where, cells, strict=True)
    ]


def _cell_problems(
    col: _Column, spec: Mapping[str, Any], numbers: np.ndarray, blank: np.ndarray
) -> list[Problem]:
    name = spec["name"]
    kind = spec.get("type", "string")
    problems = _places(
        col.bad & ~blank, numbers, "type-error", name, f'type is "{kind}/default"', col.text
    )
    checkable = ~col.bad & ~blank
    present = col.text.is_valid().to_numpy(zero_copy_only=False) & ~col.bad
    constraints = spec.get("constraints", {})
    values = col.values
    for rule, limit in constraints.items():
        message = f'constraint "{rule}" is "{limit}"'
        if rule == "required":
            fails = ~present if limit else np.zeros(len(present), dtype=bool)
        elif rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            if kind not in ("integer", "number"):
                continue
            v = values.to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                fails = {
                    "minimum": v < limit,
                    "maximum": v > limit,
                    "exclusiveMinimum": v <= limit,
                    "exclusiveMaximum": v >= limit,
                }[rule] & present
        elif rule == "enum":
            allowed = [_typed_value(v, kind) for v in limit]
            fails = present & ~values.isin(allowed).to_numpy(dtype=bool, na_value=False)
        elif rule == "pattern":
            if kind != "string":
                continue
            matched = pc.match_substring_regex(col.text, f"^{limit}$")
            fails = present & ~matched.to_numpy(zero_copy_only=False).astype(bool)
        elif rule in ("minLength", "maxLength"):
            lengths = pc.utf8_length(col.text).to_numpy(zero_copy_only=False)
            with np.errstate(invalid="ignore"):
                fails = present & (lengths < limit if rule == "minLength" else lengths > limit)
        else:
            continue
        problems.extend(
            _places(fails & checkable, numbers, "constraint-error", name, message, col.text)
        )
    return problems


def _typed_value(value: Any, kind: str) -> Any:
    if kind == "integer":
        return int(value)
    if kind == "number":
        return float(value)
    return str(value) if kind == "string" else value


def _key_frame(columns: Mapping[str, _Column], names: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({n: columns[n].values for n in names})


def _key_problems(
    columns: Mapping[str, _Column],
    schema: Mapping[str, Any],
    numbers: np.ndarray,
    blank: np.ndarray,
) -> list[Problem]:
    problems: list[Problem] = []
    for spec in schema["fields"]:
        if not spec.get("constraints", {}).get("unique"):
            continue
        values, text = columns[spec["name"]].values, columns[spec["name"]].text
        repeated = values.duplicated(keep="first").to_numpy() & values.notna().to_numpy()
        problems.extend(
            _places(repeated, numbers, "unique-error", spec["name"], "value is not unique", text)
        )
    key = list(schema.get("primaryKey") or [])
    if key and all(k in columns for k in key):
        frame = _key_frame(columns, key)
        empty = frame.isna().all(axis=1).to_numpy()
        repeated = frame.duplicated(keep="first").to_numpy() & ~empty
        where = ", ".join(key)
        problems.extend(_places(empty, numbers, "primary-key", where, "key cells are all empty"))
        text = columns[key[0]].text if len(key) == 1 else None
        problems.extend(_places(repeated, numbers, "primary-key", where, "key is not unique", text))
    return problems


def _foreign_key(
    columns: Mapping[str, _Column],
    numbers: np.ndarray,
    fk: Mapping[str, Any],
    target: Mapping[str, _Column],
    target_name: str,
) -> list[Problem]:
    own, ref = _names(fk["fields"]), _names(fk["reference"]["fields"])
    if not all(f in columns for f in own) or not all(f in target for f in ref):
        return []
    mine = _key_frame(columns, own)
    theirs = _key_frame(target, ref)
    theirs.columns = own
    if len(own) == 1:
        found = mine[own[0]].isin(theirs[own[0]].dropna()).to_numpy(dtype=bool, na_value=False)
    else:
        index = pd.MultiIndex.from_frame(theirs)
        found = pd.MultiIndex.from_frame(mine).isin(index)
    empty = mine.isna().all(axis=1).to_numpy()
    message = f"key ({', '.join(own)}) is not in {target_name} ({', '.join(ref)})"
    text = columns[own[0]].text if len(own) == 1 else None
    return _places(~found & ~empty, numbers, "foreign-key", ", ".join(own), message, text)
