"""Checks of hostile or damaged raw input, shared by every adapter and by the build.

Each check refuses with an :class:`~mosaiq.errors.InputError` naming the file, the row (as a
spreadsheet shows it: header = row 1, or the line of a CSV file) and the column:

- :func:`check_field_counts`: a CSV row with more or fewer fields than the header (a file cut
  mid-row by an interrupted download) is a structural error, never an exclusion;
- :func:`decoding_error`: a file that is not in the expected encoding, with the line and column
  of the first byte that does not decode;
- :func:`check_ages`: ages outside :data:`AGE_RANGE` or not finite;
- :func:`check_source_tables`: what an adapter hands to the build, against the package's own
  Table Schemas: identifiers match their declared ``pattern`` (the shared fragments in
  ``shared_schemas/``), numbers are finite and inside their ``minimum``/``maximum`` (the
  physical ranges of the acoustic indicators, :func:`acoustic_constraints`), and no text cell
  starts with a character that a spreadsheet reads as a formula (:data:`FORMULA_PREFIXES`).
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mosaiq.errors import InputError

if TYPE_CHECKING:
    from mosaiq.sources.base import SourceTables

FORMULA_PREFIXES = ("=", "+", "-", "@")
"""A text cell starting with one of these is run as a formula by spreadsheet programs (CSV
formula injection): such a cell is refused, never published."""

AGE_RANGE = (0, 120)
"""Ages (in years) outside this range are refused: a typing error or a missing-value code."""

ID_CHARACTERS = r"[0-9A-Za-zÀ-ÖØ-öø-ɏ_.\-]+"
"""What an identifier may hold after its ``<dataset>_`` prefix (the shared schema fragments'
``pattern``): Latin letters (accented ones too), digits and ``_ . -``. A source that needs more
declares it (``Source.id_characters``). Written with literal characters: the same class in
Python's and in RE2's syntax."""

# Physical ranges of acoustic indicators, by unit (generous: they catch typing errors, overflow
# and missing-value codes such as -999 or 1e308, not unusual recordings).
_LEVEL_UNITS = ("dB", "dBA", "dBC", "dBZ")
_LEVEL_RANGE = {"minimum": -200, "maximum": 250}
_PSYCHOACOUSTIC_RANGE = {"minimum": 0, "maximum": 10000}
_TIME_RANGE = {"minimum": 0, "maximum": 100000}


def acoustic_constraints(unit: str) -> dict[str, Any]:
    """The Table Schema constraints of an acoustic indicator measured in ``unit``."""
    if unit in _LEVEL_UNITS:
        return dict(_LEVEL_RANGE)
    if unit == "s":
        return dict(_TIME_RANGE)
    if unit:  # sone, acum, asper, vacil, tu, tuHMS, iu: magnitudes, never negative
        return dict(_PSYCHOACOUSTIC_RANGE)
    return {}  # unit not stated by the source: only finiteness is checked


def blank_as_missing(text: pd.Series) -> pd.Series:
    """Trimmed cells with the empty ones missing (a blank ID is no ID)."""
    return text.mask(text.eq(""))


def check_field_counts(path: Path, data: bytes, encoding: str = "utf-8-sig") -> None:
    """Refuse a CSV whose rows do not all have as many fields as its header.

    The field counts are first compared on the bytes, vectorised (:func:`_widths_agree`); only
    a file that fails that test, or whose quoting it cannot follow exactly, is parsed by the
    csv module, which names the first row that is too wide or too narrow."""
    if _widths_agree(data):
        return
    reader = csv.reader(io.StringIO(data.decode(encoding)))
    header = next(reader, None)
    if header is None:
        return
    width = len(header)
    for fields in reader:
        if len(fields) != width and fields:  # a blank line is no row
            raise InputError(
                f"line {reader.line_num} has {len(fields)} fields, the header has {width}: "
                "the file is damaged (cut mid-row, or a row torn by an unquoted separator); "
                "download it again",
                file=path.name,
                row=reader.line_num,
            )


_COMMA, _QUOTE, _LF, _CR = (ord(c) for c in ',"\n\r')


def _widths_agree(data: bytes) -> bool:
    """True if every non-blank record of the CSV ``data`` has as many fields as the first.

    Works on the bytes (in UTF-8 no byte of a multi-byte character is a comma, quote or line
    end): a record ends at a line feed outside quotes, a field at a comma outside quotes
    (inside: an odd number of quotes before it). That is how the csv module reads a file whose
    quotes open only at the start of a field and close only before a separator, a line end or
    a doubled quote; for any other file (or one with a lone carriage return or a NUL) the
    answer is False, and the caller asks the csv module."""
    if not data or b"\0" in data:
        return False
    bom = data.startswith(b"\xef\xbb\xbf")  # not part of the first field (utf-8-sig)
    buf = np.frombuffer(data, dtype=np.uint8, offset=3 if bom else 0)
    if not len(buf):
        return False
    quotes = np.flatnonzero(buf == _QUOTE) if b'"' in data else np.empty(0, dtype=np.int64)
    if len(quotes):
        if len(quotes) % 2:
            return False
        before = np.where(quotes > 0, buf[np.maximum(quotes - 1, 0)], _LF)
        after = np.where(quotes + 1 < len(buf), buf[np.minimum(quotes + 1, len(buf) - 1)], _LF)
        opening, closing = quotes[0::2], quotes[1::2]
        opens_ok = np.isin(before[0::2], (_COMMA, _LF)) | (opening == 0)
        # a doubled quote inside a quoted field: a closing quote right before an opening one
        opens_ok[1:] |= opening[1:] == closing[:-1] + 1
        closes_ok = np.isin(after[1::2], (_COMMA, _LF, _CR, _QUOTE))
        if not (opens_ok.all() and closes_ok.all()):
            return False

    def outside(positions: np.ndarray) -> np.ndarray:
        """Those of ``positions`` outside quotes (an even number of quotes before them)."""
        if not len(quotes):
            return positions
        return positions[np.searchsorted(quotes, positions) % 2 == 0]

    ends = outside(np.flatnonzero(buf == _LF))
    crs = outside(np.flatnonzero(buf == _CR)) if b"\r" in data else ends[:0]
    if not np.isin(crs + 1, ends).all():  # a CR only as the first half of a CRLF line end
        return False
    if not len(ends) or ends[-1] != len(buf) - 1:
        ends = np.append(ends, len(buf))  # a last record without a line end
    starts = np.concatenate(([0], ends[:-1] + 1))
    length = ends - starts
    # a record's length without a CR before its line end: zero is a blank line, no row
    tail_cr = np.zeros(len(ends), dtype=bool)
    filled = (ends > 0) & (length > 0)
    tail_cr[filled] = buf[ends[filled] - 1] == _CR
    blank = (length - tail_cr) == 0
    if blank[0]:
        return False
    # Commas per record, counted over groups of records of about _SCAN_BYTES (the positions
    # of one group's commas are all that is held).
    commas = np.zeros(len(ends), dtype=np.int64)
    cuts = np.searchsorted(starts, np.arange(_SCAN_BYTES, len(buf), _SCAN_BYTES))
    cuts = np.unique(np.concatenate(([0], cuts, [len(ends)])))
    for first, stop in itertools.pairwise(cuts):
        low, high = int(starts[first]), min(int(ends[stop - 1]) + 1, len(buf))
        at = outside(np.flatnonzero(buf[low:high] == _COMMA) + low)
        record = np.searchsorted(ends[first:stop], at)
        commas[first:stop] = np.bincount(record, minlength=stop - first)
    return bool((commas[~blank] == commas[0]).all())


_SCAN_BYTES = 1 << 22


def decoding_error(path: Path, data: bytes, exc: UnicodeDecodeError, encoding: str) -> InputError:
    """The error for a file that is not in ``encoding``: line and column of the bad byte."""
    before = data[: exc.start]
    line = before.count(b"\n") + 1
    line_start = before.rfind(b"\n") + 1
    column = len(before[line_start:].decode(encoding, errors="replace")) + 1
    bad = data[exc.start : exc.end]
    return InputError(
        f"line {line}, character {column}: byte {bad!r} is not valid {encoding.upper()} "
        f"(the file must be {encoding.removesuffix('-sig').upper()}; re-save it in that encoding)",
        file=path.name,
        row=line,
    )


def check_ages(
    ages: pd.Series, *, file: Path | str, column: str, values: pd.Series | None = None
) -> pd.Series:
    """``ages`` (numbers), refused where not finite or outside :data:`AGE_RANGE`."""
    from mosaiq.sources.base import reject_first

    a = pd.to_numeric(ages, errors="coerce")
    low, high = AGE_RANGE
    reject_first(
        a.notna() & ~(a.between(low, high)),
        f"age {{value!r}} is not a plausible age in years ({low}-{high})",
        file=file,
        column=column,
        values=values if values is not None else ages,
    )
    return a


def check_source_tables(
    src: SourceTables, schemas: Mapping[str, Mapping[str, Any]], *, clips_file: str | None = None
) -> None:
    """Refuse what an adapter hands over when a cell breaks its published schema's pattern or
    range, is an infinite number, or starts like a spreadsheet formula."""
    responses = src.responses
    rows = responses["source_row"] if "source_row" in responses.columns else None
    _check_frame(responses, schemas["responses"], file=src.source_file, rows=rows)
    clips = src.clips
    clip_rows = None
    if clips_file is None and rows is not None and "clip_id" in responses.columns:
        # a clip is named at the first raw row that gave it
        first = pd.Series(rows.to_numpy(), index=responses["clip_id"].to_numpy())
        first = first[~first.index.duplicated()]
        clip_rows = clips["clip_id"].map(first)
    _check_frame(clips, schemas["clips"], file=clips_file or src.source_file, rows=clip_rows)


def _check_frame(
    df: pd.DataFrame, schema: Mapping[str, Any], *, file: str, rows: pd.Series | None
) -> None:
    for spec in schema.get("fields", []):
        name = spec["name"]
        if name not in df.columns:
            continue
        column = df[name]
        if isinstance(column.dtype, pd.ArrowDtype) and pa.types.is_null(column.dtype.pyarrow_dtype):
            continue  # declared empty: no cell to check
        constraints = spec.get("constraints", {})
        if spec.get("type") == "string":
            # Arrow's RE2 over the column (the patterns are written in the syntax that RE2
            # and Python share); missing cells are never refused.
            text = _arrow_text(column)
            pattern = constraints.get("pattern")
            if pattern:
                ok = pc.match_substring_regex(text, f"^(?:{pattern})$")
                _refuse_text(
                    pc.invert(ok),
                    f"{{value!r}} does not match the pattern {pattern!r} of {name}",
                    text=text,
                    file=file,
                    rows=rows,
                    column=name,
                )
            _refuse_text(
                pc.match_substring_regex(text, _FORMULA_START),
                "{value!r} starts with a character that spreadsheets run as a formula "
                f"({' '.join(FORMULA_PREFIXES)}); such text is not published",
                text=text,
                file=file,
                rows=rows,
                column=name,
            )
        elif spec.get("type") in ("number", "integer"):
            if column.dtype == np.float64:
                values = column.to_numpy()
            else:
                values = pd.to_numeric(column, errors="coerce").to_numpy(
                    dtype=float, na_value=np.nan
                )
            _refuse(
                np.isinf(values),
                "{value!r} is not a finite number",
                df=column,
                file=file,
                rows=rows,
                column=name,
            )
            for key in ("minimum", "maximum"):
                if key not in constraints:
                    continue
                with np.errstate(invalid="ignore"):
                    outside = (
                        values < constraints[key] if key == "minimum" else values > constraints[key]
                    )
                _refuse(
                    outside,
                    f"{{value!r}} is outside the range of {name} "
                    f"({constraints.get('minimum', '-inf')} to "
                    f"{constraints.get('maximum', 'inf')})",
                    df=column,
                    file=file,
                    rows=rows,
                    column=name,
                )


_FORMULA_START = "^[" + "".join("\\" + c for c in FORMULA_PREFIXES) + "]"


def _arrow_text(column: pd.Series) -> pa.Array:
    """The column's cells as Arrow text (``str()`` of each), missing ones null."""
    if isinstance(column.dtype, pd.StringDtype) or column.dtype == object:
        try:
            return pa.array(column.to_numpy(dtype=object), pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # cells that are not text
            pass
    values = column.astype("string").to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return pa.array(values, pa.large_string(), from_pandas=True)


def _refuse_text(
    mask: pa.Array,
    message: str,
    *,
    text: pa.Array,
    file: str,
    rows: pd.Series | None,
    column: str,
) -> None:
    """:func:`_refuse` for a mask over Arrow ``text`` (null: not refused)."""
    hits = pc.fill_null(mask, False)
    if not pc.any(hits).as_py():
        return
    values = pd.Series(text.to_pylist(), dtype=object)
    _refuse(
        hits.to_numpy(zero_copy_only=False), message, df=values, file=file, rows=rows, column=column
    )


def _refuse(
    mask: pd.Series | np.ndarray,
    message: str,
    *,
    df: pd.Series,
    file: str,
    rows: pd.Series | None,
    column: str,
) -> None:
    hits = np.flatnonzero(np.asarray(mask, dtype=bool))
    if not len(hits):
        return
    pos = int(hits[0])
    row = None
    if rows is not None:
        value = rows.iloc[pos]
        row = int(value) if pd.notna(value) else None
    raise InputError(message.format(value=df.iloc[pos]), file=file, row=row, column=column)
