"""The adapter contract (:class:`Source`), what every adapter returns (:class:`SourceTables`), and
the checks every adapter uses to read its raw files.

An adapter (one module per dataset under ``mosaiq.sources``) knows only its raw format: file and
column names, ID rules, its rating scale, its quirks. It declares them in one :class:`Source`
(``SOURCE`` in its module, found through :func:`mosaiq.sources.source`) and returns
:class:`SourceTables` in the shared vocabulary; :mod:`mosaiq.build` does the rest.
"""

from __future__ import annotations

import codecs
import io
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mosaiq.errors import FIRST_DATA_ROW, InputError, MosaiqError, RawInputAbsent, spreadsheet_row
from mosaiq.layout import file_digest
from mosaiq.paq import Scale
from mosaiq.schema import Part, TableSpec
from mosaiq.sources.checks import ID_CHARACTERS, check_field_counts, decoding_error

EXCLUSION_COLUMNS = ("source_file", "source_row", "source_key", "reason_code", "detail")


@dataclass
class RawInput:
    """One raw file read by a build: recorded in the package descriptor."""

    path: Path
    sha256: str
    rows: int
    role: str = "responses"
    versions_known: bool = True
    """False where the adapter knows no version of this file's layout to check it against."""

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
    inputs: list[RawInput] = dataclass_field(default_factory=list)
    notes: dict[str, Any] = dataclass_field(default_factory=dict)
    clips_file: str | None = None
    """The raw file the clip attributes come from, where it is not ``source_file``."""


@dataclass(frozen=True)
class RawFile:
    """A raw file a build reads: where its name comes from and what it must hash to."""

    role: str
    """What it holds (``responses``, ``participants``, ``clips``)."""
    name: str
    """The official file name (the default of ``params``)."""
    param: str
    """The params.yaml key naming it (``build.SATP.responses``)."""
    sha256: str | None = None
    """The known sha256 of the official file, where the build checks it."""
    rows: tuple[int, ...] = ()
    """Data rows of the known versions, checked where no sha256 is known for certain (the
    copies at hand are not the official files, so their hash says nothing about it)."""
    version: str = ""
    """The known version(s), as named in a refusal."""
    layouts: tuple[tuple[str, ...], ...] = ()
    """Header columns that identify the file (one tuple per accepted layout): when the file named
    in params is absent, a table of the raw folder whose header holds every column of a layout
    is read in its place (:func:`locate_raw`). Empty: the file is found only by its name."""

    @property
    def key(self) -> str:
        """The file's own key under ``build.<dataset>`` (``responses``, ``survey``...)."""
        return self.param.rsplit(".", 1)[-1]


@dataclass(frozen=True)
class Source:
    """Everything that is special about a dataset, in one typed declaration.

    The build reads a dataset only through its ``Source``; later stages read the package as
    written (descriptor and schemas on disk) and ask the registry (:func:`mosaiq.sources.source`)
    only for what the package does not say.
    """

    dataset_id: str
    read: Callable[[Path, dict[str, Any]], SourceTables]
    """``read(root, params)``: the tidy tables; raises :class:`RawInputAbsent` (naming the
    expected file) when a raw file is not there."""
    raw_files: tuple[RawFile, ...]
    scale: Scale | None
    """The PAQ rating scale, or ``None`` for a dataset without PAQs."""
    reasons: Mapping[str, str]
    """The dataset's own exclusion reason codes (the shared ones are the build's)."""
    tables: Mapping[str, TableSpec]
    """``clips`` and ``responses`` table specs."""
    clip_mean_parts: Sequence[Part]
    """Schema parts of the per-clip aggregates, shared by ``clips`` and ``clip_languages``."""
    gender_values: tuple[str, ...]
    """The normalised gender codes the dataset can give."""
    id_rules: Mapping[str, str]
    """How ``clip_id`` and ``response_id`` are formed from the raw columns."""
    committed: bool = False
    """Tables committed to git (the licence allows it) rather than kept in the DVC cache."""
    mean_columns: tuple[str, ...] = ()
    """Response columns averaged per clip besides the PAQs (e.g. ``annoyance``)."""
    acoustic_columns: tuple[str, ...] = ()
    """Published clip columns holding acoustic indicators."""
    label_columns: tuple[str, ...] = ()
    """Published columns holding binary sound-source labels."""
    finish_clips: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    """Clip-level rules of the source applied after aggregation (e.g. DeLTA's majority labels)."""
    media: Mapping[str, str] | None = None
    """Layout of the clips' media archive (asset paths relative to a media root); ``None`` where
    the package links no media yet."""
    id_characters: str = ID_CHARACTERS
    """What the dataset's identifiers may hold after ``<dataset>_`` (a regular expression, the
    ``pattern`` of the ID fields in the shared schema fragments)."""


def exclusions_frame(rows: Iterable[Mapping[str, Any]] | pd.DataFrame = ()) -> pd.DataFrame:
    df = pd.DataFrame(rows if isinstance(rows, pd.DataFrame) else list(rows))
    for col in EXCLUSION_COLUMNS:
        if col not in df.columns:
            df[col] = pd.Series(dtype="object")
    return df[list(EXCLUSION_COLUMNS)]


def check_sha256(path: Path, expected: str | Sequence[str], *, param_key: str) -> str:
    """Refuse a raw file whose sha256 is not a known or user-declared value."""
    actual = file_digest(path)
    allowed = [expected] if isinstance(expected, str) else list(expected)
    if actual not in allowed:
        raise InputError(
            f"sha256 is {actual}, not the known value {allowed[0]}. This is not the file the "
            f"build expects. If it is a deliberate other version, declare its hash in "
            f"params.yaml ({param_key}: {actual}) and rebuild.",
            file=path,
        )
    return actual


def declared_sha256(params: Mapping[str, Any], dataset: str, raw: RawFile) -> list[str]:
    """The hashes ``build.<dataset>.sha256`` declares for ``raw``: a hash or a list of hashes
    (for any file of the dataset), or a mapping from the file's key (``responses``,
    ``survey``...) to a hash or a list."""
    value = ((params.get("build") or {}).get(dataset) or {}).get("sha256")
    if isinstance(value, Mapping):
        value = value.get(raw.key)
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    return [str(v).strip().lower() for v in values]


def check_known_version(
    dataset: str, raw: RawFile, found: RawInput, params: Mapping[str, Any]
) -> None:
    """Refuse a raw file that is none of the known versions of ``raw``, unless params.yaml
    declares its sha256. Known: the sha256 where one is known for certain, else the row count;
    fewer rows than every known count is a file cut short."""
    declared = declared_sha256(params, dataset, raw)
    accepted = found.sha256 in declared or (not declared and raw.sha256 in (None, found.sha256))
    if accepted and (declared or raw.sha256 or not raw.rows or found.rows in raw.rows):
        return
    hatch = (
        f"If it is a deliberate other version, declare its hash in params.yaml "
        f"(build.{dataset}.sha256: {found.sha256}, or build.{dataset}.sha256.{raw.key}: "
        f"{found.sha256}) and rebuild."
    )
    if declared:
        raise InputError(
            f"sha256 is {found.sha256}, not a hash declared in params.yaml "
            f"build.{dataset}.sha256 ({', '.join(declared)}). {hatch}",
            file=found.path,
        )
    name = f" ({raw.version})" if raw.version else ""
    if raw.sha256:
        raise InputError(
            f"sha256 is {found.sha256}, not the known value {raw.sha256}{name}. This is not "
            f"the file the build expects. {hatch}",
            file=found.path,
        )
    counts = " or ".join(f"{n:,}" for n in raw.rows)
    if found.rows < min(raw.rows):
        raise InputError(
            f"{found.rows:,} data rows, fewer than the {counts} of the known version{name}: "
            f"the file looks cut short (an interrupted download or copy). Fetch it again. "
            f"{hatch}",
            file=found.path,
        )
    raise InputError(
        f"{found.rows:,} data rows, not the {counts} of the known version{name} "
        f"(sha256 {found.sha256}). {hatch}",
        file=found.path,
    )


def check_known_versions(declared: Source, tables: SourceTables, params: Mapping[str, Any]) -> None:
    """Each raw file the build read checked against the known versions its ``RawFile``
    declares (matched by role)."""
    by_role = {raw.role: raw for raw in declared.raw_files}
    for found in tables.inputs:
        raw = by_role.get(found.role)
        if raw is not None and found.versions_known:
            check_known_version(declared.dataset_id, raw, found, params)


_TYPED = ContextVar("typed_reads", default=False)


@contextmanager
def typed_reads() -> Iterator[None]:
    """Within: raw CSVs are read with their number columns (``numbers=``) parsed by the CSV
    parser, not kept as text (see :func:`read_source`)."""
    token = _TYPED.set(True)
    try:
        yield
    finally:
        _TYPED.reset(token)


def read_source(declared: Source, root: Path, params: dict[str, Any]) -> SourceTables:
    """``declared.read(root, params)``, its number columns parsed as the CSV is read.

    The parser gives the same doubles as :func:`numeric` on the text. A file that does not
    parse so, or whose checks fail, is read again as text, so that an error names the cell as
    it is written. Then each raw file is checked against its known versions
    (:func:`check_known_versions`): a file cut short or of an unknown version is refused, after
    the checks of its content, so that a torn row is named where it is."""
    try:
        with typed_reads():
            tables = declared.read(root, params)
    except InputError:
        tables = declared.read(root, params)
    check_known_versions(declared, tables, params)
    return tables


def read_csv_text(
    path: Path, *, encoding: str = "utf-8-sig", numbers: Collection[str] = ()
) -> pd.DataFrame:
    """A raw CSV with every cell as text (blank cells missing), index = position of the row.

    Under :func:`typed_reads`, the ``numbers`` columns are parsed as floats by the CSV parser
    (``numeric`` then takes them as they are); if one does not parse, all are read as text.
    A file not in ``encoding`` or with a row wider or narrower than its header is refused
    (:mod:`mosaiq.sources.checks`).
    """
    data = path.read_bytes()
    if not data:
        raise InputError("file is empty", file=path)
    if not _decodes(data, encoding):  # only checked: the parser reads the bytes
        try:
            data.decode(encoding)  # the whole file, for the position of the first bad byte
        except UnicodeDecodeError as exc:
            raise decoding_error(path, data, exc, encoding) from exc
    check_field_counts(path, data, encoding)
    unreadable = (pd.errors.ParserError, pd.errors.EmptyDataError)
    try:
        df = None
        if numbers and _TYPED.get():
            kinds: defaultdict[str, Any] = defaultdict(
                lambda: str, dict.fromkeys(numbers, np.dtype(np.float64))
            )
            try:
                df = pd.read_csv(
                    io.BytesIO(data),
                    encoding=encoding,
                    dtype=kinds,
                    keep_default_na=False,
                    na_values=[""],
                )
            except unreadable:
                raise
            except ValueError:  # a cell that is not a number: the text read finds it
                df = None
        if df is None:
            df = pd.read_csv(
                io.BytesIO(data),
                encoding=encoding,
                dtype=str,
                keep_default_na=False,
                na_values=[""],
            )
    except unreadable as exc:
        raise InputError(f"cannot be read as CSV: {exc}", file=path) from exc
    if df.empty:
        raise InputError("file has a header but no data rows", file=path)
    return df.reset_index(drop=True)


def _decodes(data: bytes, encoding: str, block: int = 1 << 22) -> bool:
    """Whether ``data`` decodes in ``encoding``, checked a block at a time (no copy of the
    whole file as text)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    view = memoryview(data)
    try:
        for start in range(0, len(data), block):
            decoder.decode(view[start : start + block], final=start + block >= len(data))
    except UnicodeDecodeError:
        return False
    return True


def require_columns(df: pd.DataFrame, expected: Sequence[str], *, file: Path | str) -> None:
    """Raise an error listing the expected and the found columns when any expected is missing."""
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise InputError(
            f"unexpected layout: missing column(s) {missing}. Expected: {list(expected)}. "
            f"Found: {list(df.columns)}",
            file=file,
            column=missing[0],
        )


def source_rows(n: int) -> np.ndarray:
    """Spreadsheet row numbers of ``n`` data rows (see :func:`mosaiq.errors.spreadsheet_row`)."""
    return np.arange(n) + FIRST_DATA_ROW


def raw_input(path: Path, rows: int, role: str = "responses") -> RawInput:
    """The record of a raw file read by a build, with its sha256."""
    return RawInput(path, file_digest(path), rows, role)


def numeric(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    file: Path | str,
    scale: Scale | None = None,
    integer: bool = False,
) -> pd.DataFrame:
    """Columns parsed as numbers; the first bad cell raises an error naming its row and column.

    Text is read with surrounding white space stripped (a blank cell is missing). With
    ``scale``, values outside [minimum, maximum] are errors too. The columns are converted
    together, as one block.
    """
    columns = list(columns)
    kinds = {df[c].dtype for c in columns}
    if not columns or not kinds <= {np.dtype(object), np.dtype(float)}:
        return _numeric_by_column(df, columns, file=file, scale=scale, integer=integer)
    shape = (len(df), len(columns))
    if kinds == {np.dtype(float)}:  # parsed as the file was read
        values = df[columns].to_numpy(dtype=float).ravel(order="F")
        given = np.zeros(len(values), dtype=bool)
    else:
        cells = df[columns].to_numpy(dtype=object).ravel(order="F")
        # Each distinct text is parsed once (ratings repeat a lot); code -1 is a missing cell.
        codes, texts = pd.factorize(cells, use_na_sentinel=True)
        parsed = np.asarray(pd.to_numeric(texts, errors="coerce"), dtype=float)
        filled = np.ones(len(texts), dtype=bool)
        retry = np.flatnonzero(np.isnan(parsed))
        if len(retry):  # white space the parser does not skip: strip, as str.strip does
            stripped = np.array([str(v).strip() for v in texts[retry]], dtype=object)
            parsed[retry] = np.asarray(pd.to_numeric(stripped, errors="coerce"), dtype=float)
            filled[retry[stripped == ""]] = False
        values = np.append(parsed, np.nan)[codes]
        given = np.append(filled, False)[codes]
    values2d = values.reshape(shape, order="F")
    masks = [(np.isnan(values) & given, "not a number: {value!r}")]
    if integer:
        with np.errstate(invalid="ignore"):
            masks.append(
                (~np.isnan(values) & (values != np.round(values)), "not an integer: {value!r}")
            )
    if scale is not None:
        with np.errstate(invalid="ignore"):
            outside = (values < scale.minimum) | (values > scale.maximum)
        masks.append((outside, f"rating {{value!r}} is outside the scale {scale}"))
    hits = np.zeros(shape, dtype=bool)
    for mask, _ in masks:
        hits |= mask.reshape(shape, order="F")
    if hits.any():
        j = int(np.flatnonzero(hits.any(axis=0))[0])
        for mask, message in masks:
            reject_first(
                mask.reshape(shape, order="F")[:, j],
                message,
                file=file,
                column=columns[j],
                values=df[columns[j]],
            )
    return pd.DataFrame(values2d, index=df.index, columns=columns)


def _numeric_by_column(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    file: Path | str,
    scale: Scale | None = None,
    integer: bool = False,
) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    for col in columns:
        text = df[col].str.strip() if df[col].dtype == object else df[col]
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & text.astype("string").ne("")
        checks = [(bad, "not a number: {value!r}")]
        if integer:
            checks.append(
                (values.notna() & (values != values.round()), "not an integer: {value!r}")
            )
        if scale is not None:
            out_of_range = (values < scale.minimum) | (values > scale.maximum)
            checks.append((out_of_range, f"rating {{value!r}} is outside the scale {scale}"))
        for mask, message in checks:
            reject_first(mask, message, file=file, column=col, values=df[col])
        out[col] = values.astype(float)
    return out


def duplicated_key_error(keys: pd.Series, *, file: Path | str, column: str) -> None:
    """Raise when a key repeats, naming both rows (missing keys are not compared)."""
    dup = keys.duplicated(keep=False) & keys.notna()
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


def read_tabular(
    path: Path, *, sheet: str | int | None = None, numbers: Collection[str] = ()
) -> pd.DataFrame:
    """A raw table from CSV, or from a sheet of an xlsx workbook (default: the first sheet);
    every cell as text, blank cells missing (a CSV's ``numbers`` as floats under
    :func:`typed_reads`)."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return read_csv_text(path, numbers=numbers)
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several unrelated types for a bad file
        raise InputError(f"cannot be read as an xlsx workbook: {exc}", file=path) from exc
    try:
        names = book.sheetnames
        chosen = names[0] if sheet is None else sheet
        if isinstance(chosen, int):
            chosen = names[chosen]
        if chosen not in names:
            raise InputError(f"no sheet {chosen!r}; the workbook has {names}", file=path)
        rows = list(book[chosen].iter_rows(values_only=True))
    finally:
        book.close()
    if not rows or not any(v is not None for v in rows[0]):
        raise InputError(f"sheet {chosen!r} is empty", file=path)
    header = [str(v).strip() if v is not None else "" for v in rows[0]]
    body = [["" if v is None else _cell_text(v) for v in r] for r in rows[1:]]
    while body and not any(body[-1]):  # trailing blank rows of a sheet are not data
        body.pop()
    df = pd.DataFrame(body, columns=header, dtype="object").replace("", np.nan)
    if df.empty:
        raise InputError(f"sheet {chosen!r} has a header but no data rows", file=path)
    return df


def _cell_text(value: Any) -> str:
    """Cell text as a CSV export would show it: integers without '.0', floats in full."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def raw_dir(root: Path, params: dict[str, Any], dataset: str) -> Path:
    """The folder of a dataset's raw files (``build.<DS>.raw_dir``, default datasets/<DS>/raw)."""
    node = require_dataset_param(params, dataset)
    return resolve_path(root, node.get("raw_dir", f"datasets/{dataset}/raw"))


def raw_file(root: Path, params: dict[str, Any], dataset: str, key: str) -> Path | None:
    """A raw file named by ``build.<DS>.<key>``, relative to the raw folder (or absolute);
    ``None`` if the parameter is empty."""
    name = require_dataset_param(params, dataset).get(key)
    if not name:
        return None
    p = Path(str(name)).expanduser()
    return p if p.is_absolute() else raw_dir(root, params, dataset) / p


def require_raw(path: Path | None, dataset: str, what: str, how: str = "") -> Path:
    """The raw file, or :class:`RawInputAbsent` naming it (the build then records "not built")."""
    if path is None or not path.is_file():
        where = f"not found at {path}" if path is not None else "no file named in params.yaml"
        how = how or f"download it with `mosaiq fetch {dataset}` or place it there"
        raise RawInputAbsent(
            f"{dataset}: raw input absent ({what} {where}); {how}{_found_instead(path)}"
        )
    return path


RAW_TABLE_SUFFIXES = (".csv", ".xlsx", ".xlsm")


def locate_raw(root: Path, params: dict[str, Any], dataset: str, raw: RawFile, what: str) -> Path:
    """The raw file named by ``raw.param``; where it is absent, the one table of its folder whose
    header holds the columns of one of ``raw.layouts`` (a CSV export of the expected sheet, a
    file saved under another name).

    Nothing recognised: :class:`RawInputAbsent` naming the expected file, what the folder holds
    and the columns looked for. Several tables recognised: an :class:`InputError` naming them and
    the params.yaml line that picks one."""
    path = raw_file(root, params, dataset, raw.key)
    if path is None or path.is_file() or not raw.layouts or not path.parent.is_dir():
        return require_raw(path, dataset, what)
    matches = [p for p in _data_files(path.parent) if _has_layout(p, raw.layouts)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(p.name for p in matches)
        raise InputError(
            f"{dataset}: {what} is not at {path.name}, and {len(matches)} files here have its "
            f"columns ({names}). Name the one to read in params.yaml: under `build:` "
            f"`{dataset}:`, the line `{raw.key}: {json.dumps(matches[0].name)}`",
            file=path.parent,
        )
    looked = ""
    if _data_files(path.parent):
        columns = " or ".join(f"({', '.join(layout)})" for layout in raw.layouts)
        looked = f"; none of its tables has the columns of {what}: {columns}"
    raise RawInputAbsent(
        f"{dataset}: raw input absent ({what} not found at {path}); download it with "
        f"`mosaiq fetch {dataset}` or place it there{_found_instead(path, raw.param)}{looked}"
    )


def _data_files(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in RAW_TABLE_SUFFIXES
    )


def _has_layout(path: Path, layouts: Sequence[Sequence[str]]) -> bool:
    """Whether the header of the CSV (or of a sheet of the workbook) holds every column of one
    of ``layouts``; an unreadable file is not recognised."""
    headers = _headers(path)
    return any(set(layout) <= header for header in headers for layout in layouts)


def _headers(path: Path) -> list[set[str]]:
    import csv

    if path.suffix.lower() == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                first = next(csv.reader(handle), [])
        except (OSError, UnicodeDecodeError, csv.Error):
            return []
        return [{c.strip() for c in first}]
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # openpyxl raises several unrelated types for a bad file
        return []
    try:
        out = []
        for sheet in book.worksheets:
            row = next(sheet.iter_rows(max_row=1, values_only=True), ())
            out.append({str(v).strip() for v in row if v is not None})
        return out
    finally:
        book.close()


def _found_instead(path: Path | None, param: str = "") -> str:
    """What the expected file's folder holds instead, and how to point the build at it."""
    if path is None or not path.parent.is_dir():
        return ""
    found = sorted(p.name for p in path.parent.iterdir() if p.is_file() and p.name != ".gitignore")
    found = [n for n in found if not n.startswith(".") and n.lower() != "readme.md"]
    if not found:
        return f"; {path.parent} holds no data file"
    shown = ", ".join(found[:10]) + (f" and {len(found) - 10} more" if len(found) > 10 else "")
    return (
        f"; {path.parent} holds {shown}: if one of them is this file under another name, "
        f"rename it or set its name in params.yaml ({param or 'build.<dataset>.<file>'})"
    )


def field(name: str, ftype: str, description: str, **extra: Any) -> dict[str, Any]:
    """One inline schema field (the dataset's own, next to the shared fragments)."""
    out: dict[str, Any] = {"name": name, "type": ftype, "description": description}
    out.update(extra)
    return out


def _as_bool(mask: pd.Series | np.ndarray) -> np.ndarray:
    if isinstance(mask, pd.Series):
        return mask.to_numpy(dtype=bool, na_value=False)
    return np.asarray(mask, dtype=bool)


def first_bad(mask: pd.Series | np.ndarray) -> int:
    """Position of the first True in a boolean mask (missing values count as False)."""
    return int(np.flatnonzero(_as_bool(mask))[0])


def reject_first(
    mask: pd.Series | np.ndarray,
    message: str,
    *,
    file: Path | str,
    column: str,
    values: pd.Series | None = None,
) -> None:
    """Raise an :class:`InputError` at the first row where ``mask`` is true, naming the file, the
    row and the column; ``{value!r}`` in ``message`` becomes that row's cell of ``values``."""
    if not _as_bool(mask).any():
        return
    pos = first_bad(mask)
    text = message.format(value=values.iloc[pos]) if values is not None else message
    raise InputError(text, file=file, row=spreadsheet_row(pos), column=column)


def strip_text(values: pd.Series) -> pd.Series:
    """``values.str.strip()``, each distinct text stripped once (raw columns repeat a lot)."""
    if values.dtype != object:
        return values.str.strip()
    codes, uniques = pd.factorize(values.to_numpy(), use_na_sentinel=True)
    stripped = [u.strip() if isinstance(u, str) else np.nan for u in uniques]
    texts = np.array([*stripped, np.nan], dtype=object)  # code -1 (missing) takes the last
    return pd.Series(texts[codes], index=values.index, name=values.name)


def map_codes(
    raw: pd.Series, codes: Mapping[str, str], what: str, *, file: Path | str, column: str
) -> pd.Series:
    """Raw codes (trimmed) mapped to the shared vocabulary; an unknown code is an error naming
    its row. Missing cells stay missing."""
    text = strip_text(raw)
    reject_first(
        text.notna() & ~text.isin(list(codes)),
        f"unknown {what} {{value!r}}; known: {list(codes)}",
        file=file,
        column=column,
        values=raw,
    )
    return text.map(codes).astype("string")


def add_missing_columns(
    df: pd.DataFrame, *, strings: Sequence[str] = (), numbers: Sequence[str] = ()
) -> pd.DataFrame:
    """``df`` with every listed column present: missing ones are added empty, all at once.

    An added column is of Arrow's null type: it holds no buffer at all, whatever the rows, and
    the build writes it as empty cells (:func:`mosaiq.package.empty_columns`)."""
    added = [c for c in (*strings, *numbers) if c not in df.columns]
    if not added:
        return df
    nothing = pd.arrays.ArrowExtensionArray(pa.nulls(len(df)))
    new = pd.DataFrame(dict.fromkeys(added, nothing), index=df.index, copy=False)
    return pd.concat([df, new], axis=1)


def join_flags(flags: Mapping[str, Any], index: pd.Index) -> pd.Series:
    """Semicolon-joined codes of the flags whose mask is true, per row (empty when none)."""
    names = list(flags)
    if not names:
        return pd.Series(pd.NA, index=index, dtype="string")
    hits = np.column_stack([np.asarray(flags[n], dtype=bool) for n in names])
    # Each distinct combination of flags (one bit each) is joined once.
    key = hits.reshape(len(index), len(names)).astype(np.int64) @ (1 << np.arange(len(names)))
    combos, codes = np.unique(key, return_inverse=True)
    texts = [";".join(n for i, n in enumerate(names) if int(c) >> i & 1) for c in combos]
    labels = pd.array([t or pd.NA for t in texts], dtype="string")
    return pd.Series(labels.take(codes.reshape(-1)), index=index)


def link_audio(clips: pd.DataFrame, pattern: str | None, *, setting: str) -> pd.DataFrame:
    """``audio_asset`` of every clip from a path pattern filled with the clip's own columns
    (``{recording}.wav``), ``start_s`` 0 (the whole recording); ``None`` or ``""``: no media
    linked. A column the pattern names that the clips lack is an error naming the setting."""
    if not pattern:
        return clips
    import string

    names = [f for _t, f, _s, _c in string.Formatter().parse(str(pattern)) if f]
    missing = sorted(set(names) - set(clips.columns))
    if missing:
        raise MosaiqError(
            f"params.yaml {setting} {pattern!r}: the clips have no column(s) {missing}; "
            f"available: {sorted(clips.columns)}"
        )
    out = clips.copy()
    values = out[names].astype("string") if names else pd.DataFrame(index=out.index)
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in values.to_dict("records")
    ] or [{}] * len(out)
    assets = [str(pattern).format(**r) for r in rows]
    out["audio_asset"] = pd.Series(assets, index=out.index, dtype="string")
    out["start_s"] = 0.0
    return out
