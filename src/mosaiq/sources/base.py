"""What every adapter returns, and the checks every adapter uses to read its raw files.

An adapter (one module per dataset under ``mosaiq.sources``) knows only its raw format: file and
column names, ID rules, its rating scale, its quirks. It returns :class:`SourceTables` in the
shared vocabulary; :mod:`mosaiq.build` does the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import InputError, MosaiqError
from mosaiq.paq import Scale

EXCLUSION_COLUMNS = ("source_file", "source_row", "source_key", "reason_code", "detail")


@dataclass
class RawInput:
    """One raw file read by a build: recorded in the package descriptor."""

    path: Path
    sha256: str
    rows: int
    role: str = "responses"

    def describe(self) -> dict[str, Any]:
        # The file name only: where a user keeps the file must not change the descriptor.
        return {
            "role": self.role,
            "file": self.path.name,
            "sha256": self.sha256,
            "bytes": self.path.stat().st_size,
            "rows": self.rows,
        }


@dataclass
class SourceTables:
    """The tidy tables an adapter hands to the build.

    - ``responses``: one row per published candidate response, in the shared vocabulary
      (response_id, clip_id, participant_id, language, PAQ1_pleasant ..., dataset fields,
      source_row, source_flags);
    - ``clips``: clip attributes taken from the source (location, acoustics, ...), keyed by
      clip_id; means and counts are added by the build;
    - ``exclusions``: rows the adapter already rejected (source_file, source_row, source_key,
      reason_code, detail);
    - ``raw_rows``: rows in the raw response table, so that published + excluded can be checked.
    """

    responses: pd.DataFrame
    clips: pd.DataFrame
    exclusions: pd.DataFrame
    raw_rows: int
    source_file: str
    inputs: list[RawInput] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)


def exclusions_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame = ()) -> pd.DataFrame:
    df = pd.DataFrame(rows if isinstance(rows, pd.DataFrame) else list(rows))
    for col in EXCLUSION_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype="object")
    return df[list(EXCLUSION_COLUMNS)]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_sha256(path: Path, expected: str | Sequence[str], *, param_key: str) -> str:
    """Refuse a raw file whose sha256 is not a known or user-declared value."""
    actual = sha256_file(path)
    allowed = [expected] if isinstance(expected, str) else list(expected)
    if actual not in allowed:
        raise InputError(
            f"sha256 is {actual}, not the known value {allowed[0]}. This is not the file the "
            f"build expects. If it is a deliberate other version, declare its hash in "
            f"params.yaml ({param_key}: {actual}) and rebuild.",
            file=path,
        )
    return actual


def read_csv_text(path: Path, *, encoding: str = "utf-8-sig") -> pd.DataFrame:
    """A raw CSV with every cell as text (blank cells missing), index = position of the row."""
    if not path.is_file():
        raise InputError("file not found", file=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"cannot be read as CSV: {exc}", file=path) from exc
    if df.empty:
        raise InputError("file has a header but no data rows", file=path)
    return df.reset_index(drop=True)


def require_columns(df: pd.DataFrame, expected: Sequence[str], *, file: Path | str) -> None:
    """Raise an error listing the expected and the found columns when any expected is missing."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise InputError(
            f"unexpected layout: missing column(s) {missing}. Expected: {list(expected)}. "
            f"Found: {list(df.columns)}",
            file=file,
        )


def spreadsheet_row(position: int | np.integer) -> int:
    """Row number of the data row at ``position`` (0-based) as a spreadsheet shows it."""
    return int(position) + 2


def numeric(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    file: Path | str,
    scale: Scale | None = None,
    integer: bool = False,
) -> pd.DataFrame:
    """Columns parsed as numbers; the first bad cell raises an error naming its row and column.

    With ``scale``, values outside [minimum, maximum] are errors too.
    """
    out = pd.DataFrame(index=df.index)
    for col in columns:
        text = df[col].str.strip() if df[col].dtype == object else df[col]
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & text.astype("string").ne("")
        if bad.any():
            pos = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"not a number: {df[col].iloc[pos]!r}",
                file=file,
                row=spreadsheet_row(pos),
                column=col,
            )
        if integer:
            frac = values.notna() & (values != values.round())
            if frac.any():
                pos = int(np.flatnonzero(frac.to_numpy())[0])
                raise InputError(
                    f"not an integer: {df[col].iloc[pos]!r}",
                    file=file,
                    row=spreadsheet_row(pos),
                    column=col,
                )
        if scale is not None:
            out_of_range = (values < scale.minimum) | (values > scale.maximum)
            if out_of_range.any():
                pos = int(np.flatnonzero(out_of_range.to_numpy())[0])
                raise InputError(
                    f"rating {df[col].iloc[pos]!r} is outside the scale {scale}",
                    file=file,
                    row=spreadsheet_row(pos),
                    column=col,
                )
        out[col] = values.astype(float)
    return out


def duplicated_key_error(keys: pd.Series, *, file: Path | str, column: str) -> None:
    """Raise when a key repeats, naming both rows."""
    dup = keys.duplicated(keep=False)
    if dup.any():
        positions = np.flatnonzero(dup.to_numpy())
        first_key = keys.iloc[positions[0]]
        rows = [spreadsheet_row(p) for p in positions if keys.iloc[p] == first_key]
        raise InputError(
            f"duplicate ID {first_key!r} (rows {', '.join(map(str, rows))})",
            file=file,
            row=rows[1],
            column=column,
        )


def resolve_path(root: Path, value: str | Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (root / p)


def require_dataset_param(params: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    node = params.get("build", {}).get(dataset)
    if not isinstance(node, dict):
        raise MosaiqError(f"params.yaml: build.{dataset} is missing")
    return node
