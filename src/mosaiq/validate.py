"""Validation of every package: its Table Schemas, plus the checks Table Schema cannot express.

:mod:`mosaiq.tablecheck` checks what the schemas say (types, ranges, enums, patterns, required
cells, unique values, primary and foreign keys, blank rows, row widths) column by column, as
Frictionless would find it cell by cell (``frictionless validate`` on a package finds the same;
the tests hold the two together). The project's own checks add:

- ``iso-mismatch``: published ISO coordinates (equal and language angles) and ``angle_set``
  agree with a recomputation from the published PAQ ratings;
- ``clip-mismatch``: clip means and counts agree with an aggregation of the published responses;
- ``row-accounting``: published + excluded rows = raw rows, and the descriptor's counts are right;
- ``catalogue-mismatch``: the catalogue's measured counts agree with the packages;
- ``personal-data``: no column of a published table is a personal-data column;
- ``feature-*``: every feature record's stored value exists with its declared dimension and
  dtype, is finite, matches its checksum, has norm 1 (CLIP embeddings) or group ratios in [0, 1]
  summing to at most 1 (segmentation summaries), and its provenance has the required keys.

Every issue names the file, the row (as a spreadsheet shows it: header = row 1) and the field.
The report is deterministic JSON (no timings), so a rerun on the same files gives the same bytes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.harmonise import (
    HARMONISED,
    ISO_COLUMNS,
    ISO_LANG_COLUMNS,
    aggregate_clips,
    linear_map,
    published_mean_columns,
)
from mosaiq.layout import BUILT, REPORT_PATH, package_dir
from mosaiq.layout import relative_path as _rel
from mosaiq.package import read_table
from mosaiq.paq import LIKERT_5, PAQ_IDS, Scale, angles_for_languages, iso_coordinates
from mosaiq.settings import DATASETS, load_params, param, read_yaml

# Columns that identify or profile a person beyond what the benchmark needs.
PERSONAL_DATA = re.compile(
    r"^(misc\d+|[a-z]+\d+_other|who\d+|who_sum|edu\d*|education|eth\d*|ethnicity"
    r"|occ\d*|occupation|age\d+|age|birth.*|start_time|end_time|.*timestamp.*|gps.*"
    r"|latitude|longitude|first_name|last_name|full_name|participant_name|email|e_mail|phone"
    r"|ip_address|address|postcode|zip)$",
    re.IGNORECASE,
)
# Location coordinates are allowed where they describe a place (one point per location), not a
# person: in the clips table only.
PERSONAL_DATA_ALLOWED = {"clips": {"latitude", "longitude"}}


# Personal data in the values of text columns (not only in column names).
PERSONAL_VALUES = {
    "an e-mail address": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}"),
    "a phone number": re.compile(
        r"(?<![\w.])(?:\+|00)\d{1,3}[ ().-]*\d[\d ().-]{6,}\d"
        r"|(?<![\w.])\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w.])"
    ),
    "geographic coordinates": re.compile(
        r"(?<![\w.])-?\d{1,2}\.\d{3,}\s*[,; ]\s*-?\d{1,3}\.\d{3,}(?![\w.])"
    ),
}
# The same patterns without their look-arounds (which RE2 lacks): every cell that a pattern above
# matches matches its prefilter, so Arrow's RE2 scans whole columns and Python's `re` confirms
# only the few candidates.
PERSONAL_PREFILTERS = {
    "an e-mail address": PERSONAL_VALUES["an e-mail address"].pattern,
    "a phone number": r"(?:\+|00)\d{1,3}[ ().-]*\d[\d ().-]{6,}\d|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}",
    "geographic coordinates": r"-?\d{1,2}\.\d{3,}\s*[,; ]\s*-?\d{1,3}\.\d{3,}",
}


def _first_personal_value(values: pd.Series, what: str) -> int | None:
    """Position of the first cell holding ``what``, or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values.astype("string"), type=pa.large_string(), from_pandas=True)
    candidates = pc.match_substring_regex(text, PERSONAL_PREFILTERS[what]).fill_null(False)
    pattern = PERSONAL_VALUES[what]
    for pos in np.flatnonzero(candidates.to_numpy(zero_copy_only=False)):
        if pattern.search(text[int(pos)].as_py()):
            return int(pos)
    return None


def _personal_values(tables: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Issue]:
    """Text cells holding an e-mail address, a phone number or a coordinate pair (feature
    provenance and values, which are JSON of the runs, are not person data)."""
    issues = []
    for name, df in tables.items():
        if name == "features":
            continue
        for col in df.columns:
            if df[col].dtype == object or isinstance(df[col].dtype, pd.StringDtype):
                for what in PERSONAL_VALUES:
                    pos = _first_personal_value(df[col], what)
                    if pos is not None:
                        issues.append(
                            Issue(
                                "error",
                                "personal-data",
                                files[name],
                                f"a cell holds {what}",
                                row=pos + 2,
                                field=col,
                            )
                        )
    return issues


@dataclass
class Issue:
    severity: str  # "error" or "warning"
    code: str
    file: str
    message: str
    row: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.field:
            where += f", field {self.field!r}"
        return f"{where}: [{self.code}] {self.message}"


@dataclass
class PackageReport:
    name: str
    status: str  # valid | invalid | not built
    issues: list[Issue]
    rows: dict[str, int]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]


@dataclass
class Report:
    packages: list[PackageReport]

    @property
    def valid(self) -> bool:
        return not any(p.errors for p in self.packages)

    def to_json(self) -> str:
        data = {
            "valid": self.valid,
            "checks": [
                "table-schema",
                "iso-mismatch",
                "clip-mismatch",
                "row-accounting",
                "catalogue-mismatch",
                "personal-data",
                "features",
            ],
            "packages": {
                p.name: {
                    "status": p.status,
                    "rows": p.rows,
                    "errors": [asdict(i) for i in p.errors],
                    "warnings": [asdict(i) for i in p.warnings],
                }
                for p in self.packages
            },
        }
        return json.dumps(data, indent=2, sort_keys=False) + "\n"


def validate_all(root: Path, datasets: Iterable[str] | None = None) -> Report:
    params = load_params(root)
    tolerance = float(param(params, "validate.tolerance", 1e-9))
    names = list(datasets) if datasets else list(DATASETS)
    unknown = sorted(set(names) - set(DATASETS))
    if unknown:
        raise MosaiqError(f"unknown dataset {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    descriptors = [package_dir(root, ds) / "datapackage.yaml" for ds in names]
    catalogue = root / "catalogue" / "datapackage.yaml"
    checked = table_issues(root, [d for d in (*descriptors, catalogue) if d.is_file()])
    reports = [
        validate_dataset(root, ds, tolerance, checked.get(d))
        for ds, d in zip(names, descriptors, strict=True)
    ]
    reports.append(validate_catalogue(root, checked.get(catalogue)))
    return Report(reports)


STRUCTURAL = ("unreadable-descriptor", "unsafe-path", "missing-file", "empty-file")
"""Issue codes after which a package's tables are not read (they cannot be, or must not be)."""


def _missing_files(root: Path, descriptor_path: Path) -> list[Issue]:
    """What stops a package from being read: a descriptor that does not parse or has no resource
    list, resource or schema paths that are absolute or leave the package (also through a
    symbolic link), missing or empty files."""
    where = _rel(root, descriptor_path)
    try:
        descriptor = read_yaml(descriptor_path)
    except Exception as exc:  # a damaged file: YAML, OS or decoding errors alike
        return [Issue("error", "unreadable-descriptor", where, f"cannot be read: {exc}")]
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    if not isinstance(resources, list) or not all(
        isinstance(r, dict) and isinstance(r.get("name"), str) for r in resources
    ):
        return [
            Issue(
                "error",
                "unreadable-descriptor",
                where,
                "no list of named resources (the descriptor is not a data package)",
                field="resources",
            )
        ]
    base = descriptor_path.parent.resolve()
    issues = []
    for res in resources:
        for key in ("path", "schema"):
            value = res.get(key)
            field = f"resources.{res['name']}.{key}"
            if not isinstance(value, str) or not value:
                issues.append(
                    Issue("error", "missing-file", where, f"{key} is not a file path", field=field)
                )
                continue
            pure = PurePosixPath(value)
            target = base / value
            if pure.is_absolute() or Path(value).is_absolute() or ".." in pure.parts:
                message = f"{key} {value!r} is absolute or climbs out of the package"
            elif not target.resolve().is_relative_to(base):
                message = f"{key} {value!r} leads out of the package (symbolic link)"
            else:
                message = ""
            if message:
                issues.append(Issue("error", "unsafe-path", where, message, field=field))
            elif not target.is_file():
                issues.append(
                    Issue(
                        "error",
                        "missing-file",
                        _rel(root, target),
                        f"{key} of resource {res['name']!r} does not exist",
                    )
                )
            elif target.stat().st_size == 0:
                issues.append(
                    Issue(
                        "error",
                        "empty-file",
                        _rel(root, target),
                        f"{key} of resource {res['name']!r} is an empty file (0 bytes)",
                    )
                )
    return issues


def _expected_resources(
    root: Path, dataset: str, descriptor_path: Path, params: dict[str, Any]
) -> list[Issue]:
    """A dataset package lists every table of the build, and each schema file is the one the
    build generates from ``shared_schemas/`` (a schema edited by hand is reported)."""
    from mosaiq.sources.generated import generated_schemas

    where = _rel(root, descriptor_path)
    package_tables, generated = generated_schemas(root, dataset, params)
    resources = {r["name"]: r for r in read_yaml(descriptor_path)["resources"]}
    issues = [
        Issue(
            "error",
            "missing-resource",
            where,
            f"resource {name!r} is not in the descriptor",
            field="resources",
        )
        for name in package_tables
        if name not in resources
    ]
    for name, res in resources.items():
        path = descriptor_path.parent / res["schema"]
        if name not in generated:
            issues.append(
                Issue(
                    "error",
                    "extra-resource",
                    where,
                    f"resource {name!r} is not a table of the build",
                    field=f"resources.{name}",
                )
            )
        elif read_yaml(path) != generated[name]:
            issues.append(
                Issue(
                    "error",
                    "schema-edited",
                    _rel(root, path),
                    "differs from the schema generated from shared_schemas/ (edited by hand, or "
                    "built by another version: run `mosaiq build`)",
                    field=_first_difference(read_yaml(path), generated[name]),
                )
            )
    return issues


def _first_difference(found: Any, expected: Any, at: str = "") -> str | None:
    """Where two parsed YAML documents first differ (a dotted path; list items by field name)."""
    if isinstance(found, dict) and isinstance(expected, dict):
        for key in [*expected, *(k for k in found if k not in expected)]:
            if found.get(key) != expected.get(key):
                inner = _first_difference(found.get(key), expected.get(key), f"{at}.{key}")
                return inner or f"{at}.{key}".lstrip(".")
        return None
    if isinstance(found, list) and isinstance(expected, list) and len(found) == len(expected):
        for i, (a, b) in enumerate(zip(found, expected, strict=True)):
            if a != b:
                label = b.get("name", i) if isinstance(b, dict) else i
                return _first_difference(a, b, f"{at}.{label}") or f"{at}.{label}".lstrip(".")
    return at.lstrip(".") or None


def frictionless_resource(root: Path, descriptor: Path, name: str) -> tuple[int, list[Issue]]:
    """Frictionless on one resource of a package (its foreign keys resolved in the package): the
    reference that :mod:`mosaiq.tablecheck` is held to."""
    from frictionless import Package

    package = Package(str(descriptor))
    resource = package.get_resource(name)
    report = resource.validate()
    place = _rel(root, descriptor.parent / str(resource.path))
    issues = [
        Issue("error", err.type, _rel(root, descriptor), err.message) for err in report.errors
    ]
    rows = 0
    for task in report.tasks:
        rows = int(task.stats.get("rows") or 0)
        issues.extend(
            Issue(
                "error",
                err.type,
                place,
                err.message,
                row=getattr(err, "row_number", None),
                field=getattr(err, "field_name", None),
            )
            for err in task.errors
        )
    return rows, issues


Checked = tuple[list[Issue], dict[str, int], dict[str, pd.DataFrame]]
"""Per package: the table issues, the data rows per resource, and the tables typed by their
schemas (those whose every cell parses)."""


def table_issues(root: Path, descriptors: list[Path]) -> dict[Path, Checked]:
    """Table Schema checks of packages (vectorised, :mod:`mosaiq.tablecheck`).

    Returns, per descriptor, the issues (each naming file, row and field), the rows per resource
    and the typed tables. A package with a missing file is reported as such and not checked
    further.
    """
    from mosaiq.tablecheck import check_package

    results: dict[Path, Checked] = {}
    for descriptor in descriptors:
        missing = _missing_files(root, descriptor)
        if missing:
            results[descriptor] = (missing, {}, {})
            continue
        paths = {r["name"]: r["path"] for r in read_yaml(descriptor)["resources"]}
        issues: list[Issue] = []
        rows: dict[str, int] = {}
        tables: dict[str, Any] = {}
        try:
            by_resource = check_package(descriptor)
        except Exception as exc:  # a file damaged past what the table checks report
            results[descriptor] = ([_failed(root, descriptor, "table-schema", exc)], {}, {})
            continue
        for name, checked in by_resource.items():
            place = _rel(root, descriptor.parent / paths[name])
            issues.extend(
                Issue("error", p.code, place, p.message, row=p.row, field=p.field)
                for p in checked.problems
            )
            rows[name] = checked.rows
            if checked.table is not None:
                tables[name] = checked.table
        results[descriptor] = (issues, rows, tables)
    return results


def validate_dataset(
    root: Path,
    dataset: str,
    tolerance: float = 1e-9,
    checked: Checked | None = None,
) -> PackageReport:
    pkg = package_dir(root, dataset)
    descriptor_path = pkg / "datapackage.yaml"
    if not descriptor_path.is_file():
        issue = Issue(
            "warning", "not-built", _rel(root, descriptor_path), f"{dataset} has no package yet"
        )
        return PackageReport(dataset, "not built", [issue], {})
    if checked is None:
        checked = table_issues(root, [descriptor_path])[descriptor_path]
    issues, rows = list(checked[0]), dict(checked[1])
    if any(i.code == "unreadable-descriptor" for i in issues):
        return PackageReport(dataset, "invalid", issues, rows)
    descriptor = read_yaml(descriptor_path)
    meta = descriptor.get("mosaiq", {})
    status = meta.get("build_status", "unknown")
    if status != BUILT:
        issues.append(Issue("warning", "not-built", _rel(root, descriptor_path), status))
        return PackageReport(
            dataset, "not built" if not _errors(issues) else "invalid", issues, rows
        )
    if not any(i.code in STRUCTURAL for i in issues):
        try:
            issues.extend(_expected_resources(root, dataset, descriptor_path, load_params(root)))
            issues.extend(_semantic_issues(root, pkg, descriptor, tolerance, checked[2]))
        except Exception as exc:  # a damaged file the checks could not read: reported, not raised
            issues.append(_failed(root, descriptor_path, "package", exc))
    return PackageReport(dataset, "invalid" if _errors(issues) else "valid", issues, rows)


def _failed(root: Path, path: Path, what: str, exc: Exception) -> Issue:
    """A check that could not run on a damaged file, as an issue of the report."""
    return Issue(
        "error",
        "unreadable",
        _rel(root, path),
        f"{what} checks could not read the package: {type(exc).__name__}: {exc}",
    )


def _errors(issues: list[Issue]) -> bool:
    return any(i.severity == "error" for i in issues)


def load_package_tables(
    pkg: Path, descriptor: dict[str, Any], typed_tables: dict[str, pd.DataFrame] | None = None
) -> tuple[dict[str, pd.DataFrame], bool]:
    """The package's tables typed by their schemas (``typed_tables`` already read are reused);
    ``False`` if any cell does not parse (then the tables are text, and the table checks have
    already reported where)."""
    tables, typed = {}, True
    for res in descriptor["resources"]:
        if typed_tables and res["name"] in typed_tables:
            tables[res["name"]] = typed_tables[res["name"]]
            continue
        schema = read_yaml(pkg / res["schema"])
        try:
            tables[res["name"]] = read_table(pkg / res["path"], schema)
        except (ValueError, TypeError):
            typed = False
            tables[res["name"]] = pd.read_csv(pkg / res["path"], dtype=str)
    return tables, typed


def _semantic_issues(
    root: Path,
    pkg: Path,
    descriptor: dict[str, Any],
    tolerance: float,
    typed_tables: dict[str, pd.DataFrame] | None = None,
) -> list[Issue]:
    meta = descriptor["mosaiq"]
    tables, typed = load_package_tables(pkg, descriptor, typed_tables)
    files = {res["name"]: _rel(root, pkg / res["path"]) for res in descriptor["resources"]}
    issues: list[Issue] = []
    for name, df in tables.items():
        allowed = PERSONAL_DATA_ALLOWED.get(name, set())
        for col in df.columns:
            if col not in allowed and PERSONAL_DATA.match(col):
                issues.append(
                    Issue(
                        "error",
                        "personal-data",
                        files[name],
                        "personal-data column in a published table",
                        field=col,
                    )
                )
    issues.extend(_personal_values(tables, files))
    counts = {name: len(df) for name, df in tables.items()}
    for name, expected in meta.get("counts", {}).items():
        if counts.get(name) != expected:
            issues.append(
                Issue(
                    "error",
                    "row-accounting",
                    _rel(root, pkg / "datapackage.yaml"),
                    f"descriptor says {expected} rows in {name}, the file has {counts.get(name)}",
                    field=f"mosaiq.counts.{name}",
                )
            )
    raw_rows = meta.get("raw_rows")
    published = counts.get("responses", 0) + counts.get("exclusions", 0)
    if raw_rows is not None and published != raw_rows:
        issues.append(
            Issue(
                "error",
                "row-accounting",
                files["exclusions"],
                f"{counts.get('responses', 0)} published + "
                f"{counts.get('exclusions', 0)} excluded = {published} rows, "
                f"but the raw source has {raw_rows}",
            )
        )
    if typed and "features" in tables:
        from mosaiq.features.checks import feature_problems

        for row, field, code, message in feature_problems(pkg, tables["features"]):
            issues.append(Issue("error", code, files["features"], message, row=row, field=field))
    harmonisation = meta.get("harmonisation")
    responses = tables.get("responses")
    if not typed or responses is None:
        return issues
    if harmonisation:
        scale = Scale(**harmonisation["scale"])
        issues.extend(
            _iso_issues(
                responses, scale, harmonisation["angle_table"], files["responses"], tolerance
            )
        )
    if "paq_complete" in responses.columns:
        responses = responses.assign(paq_complete=responses[list(PAQ_IDS)].notna().all(axis=1))
    for name, keys in (("clips", ["clip_id"]), ("clip_languages", ["clip_id", "language"])):
        if name in tables:
            means = published_mean_columns(tables[name].columns, responses.columns)
            expected = aggregate_clips(responses, keys, means)
            issues.extend(_aggregate_issues(tables[name], expected, keys, files[name], tolerance))
    return issues


def _mismatch_rows(published: pd.Series, expected: np.ndarray, tolerance: float) -> np.ndarray:
    pub = published.to_numpy(dtype=float, na_value=np.nan)
    both_nan = np.isnan(pub) & np.isnan(expected)
    close = np.isclose(pub, expected, rtol=0, atol=tolerance)
    return np.flatnonzero(~(both_nan | close))


def _iso_issues(
    responses: pd.DataFrame, scale: Scale, angle_table: str, file: str, tolerance: float
) -> list[Issue]:
    paq = responses[list(PAQ_IDS)].to_numpy(dtype=float, na_value=np.nan)
    expected = dict(zip(ISO_COLUMNS, iso_coordinates(paq, scale), strict=True))
    langs = responses["language"].astype("string").fillna("").tolist()
    angles, angle_sets = angles_for_languages(langs, angle_table)
    expected.update(zip(ISO_LANG_COLUMNS, iso_coordinates(paq, scale, angles), strict=True))
    issues = []
    for col, values in expected.items():
        for pos in _mismatch_rows(responses[col], values, tolerance)[:20]:
            issues.append(
                Issue(
                    "error",
                    "iso-mismatch",
                    file,
                    f"{col} is {_fmt(responses[col].iloc[pos])}, the PAQ ratings give "
                    f"{_fmt(values[pos])} ({scale} scale, "
                    f"{'equal' if col in ISO_COLUMNS else angle_table} angles)",
                    row=int(pos) + 2,
                    field=col,
                )
            )
    if scale != LIKERT_5:
        for col in PAQ_IDS:
            target = f"{col}{HARMONISED}"
            if target in responses.columns:
                mapped = linear_map(
                    responses[col].to_numpy(dtype=float, na_value=np.nan), scale, LIKERT_5
                )
                for pos in _mismatch_rows(responses[target], mapped, tolerance)[:20]:
                    issues.append(
                        Issue(
                            "error",
                            "iso-mismatch",
                            file,
                            f"{target} is {_fmt(responses[target].iloc[pos])}, the linear map of "
                            f"{col} onto 1-5 gives {_fmt(mapped[pos])}",
                            row=int(pos) + 2,
                            field=target,
                        )
                    )
    wrong_set = np.flatnonzero(
        responses["angle_set"].astype("string").to_numpy() != np.array(angle_sets, dtype=object)
    )
    for pos in wrong_set[:20]:
        issues.append(
            Issue(
                "error",
                "iso-mismatch",
                file,
                f"angle_set is {responses['angle_set'].iloc[pos]!r}, the language "
                f"{langs[pos]!r} gives {angle_sets[pos]!r}",
                row=int(pos) + 2,
                field="angle_set",
            )
        )
    return issues


def _aggregate_issues(
    published: pd.DataFrame,
    expected: pd.DataFrame,
    keys: list[str],
    file: str,
    tolerance: float,
) -> list[Issue]:
    """Clip (or clip-and-language) means and counts against their recomputation."""
    issues = []
    key = _joined(published, keys)
    expected = expected.assign(_key=_joined(expected, keys))
    expected = expected.set_index("_key")
    missing = ~key.isin(expected.index)
    for pos in np.flatnonzero(missing.to_numpy())[:20]:
        issues.append(
            Issue(
                "error",
                "clip-mismatch",
                file,
                f"no published response has this key ({', '.join(keys)})",
                row=int(pos) + 2,
                field="n_responses",
            )
        )
    extra = ~expected.index.isin(key)
    if extra.any():
        issues.append(
            Issue(
                "error",
                "clip-mismatch",
                file,
                f"{int(extra.sum())} keys of the responses have no row here "
                f"(first: {expected.index[extra][0].replace(chr(31), ', ')})",
            )
        )
    aligned = expected.reindex(key)
    for col in expected.columns:
        if col in keys or col not in published.columns:
            continue
        values = aligned[col].to_numpy(dtype=float, na_value=np.nan)
        for pos in _mismatch_rows(published[col], values, tolerance)[:20]:
            if missing.iloc[pos]:
                continue
            issues.append(
                Issue(
                    "error",
                    "clip-mismatch",
                    file,
                    f"{col} is {_fmt(published[col].iloc[pos])}, the published responses give "
                    f"{_fmt(values[pos])}",
                    row=int(pos) + 2,
                    field=col,
                )
            )
    return issues


def _joined(df: pd.DataFrame, keys: list[str]) -> pd.Series:
    """The key columns as text joined by a unit separator, one string per row (vectorised)."""
    out = df[keys[0]].astype(str)
    for k in keys[1:]:
        out = out + "\x1f" + df[k].astype(str)
    return out


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "empty"
    return f"{value:.10g}" if isinstance(value, (float, np.floating)) else str(value)


def validate_catalogue(root: Path, checked: Checked | None = None) -> PackageReport:

    descriptor_path = root / "catalogue" / "datapackage.yaml"
    name = "catalogue"
    if not descriptor_path.is_file():
        return PackageReport(
            name,
            "invalid",
            [Issue("error", "missing-file", _rel(root, descriptor_path), "catalogue not built")],
            {},
        )
    if checked is None:
        checked = table_issues(root, [descriptor_path])[descriptor_path]
    issues, rows = list(checked[0]), dict(checked[1])
    if any(i.code in STRUCTURAL for i in issues):
        return PackageReport(name, "invalid", issues, rows)
    try:
        issues.extend(_catalogue_issues(root, descriptor_path))
    except Exception as exc:  # a damaged file the checks could not read: reported, not raised
        issues.append(_failed(root, descriptor_path, "catalogue", exc))
    return PackageReport(name, "invalid" if _errors(issues) else "valid", issues, rows)


def _catalogue_issues(root: Path, descriptor_path: Path) -> list[Issue]:
    from mosaiq.catalogue import measured_counts

    issues: list[Issue] = []
    descriptor = read_yaml(descriptor_path)
    res = descriptor["resources"][0]
    table = read_table(
        root / "catalogue" / res["path"], read_yaml(root / "catalogue" / res["schema"])
    )
    file = _rel(root, root / "catalogue" / res["path"])
    for pos, (_, row) in enumerate(table.iterrows()):
        ds = row["dataset_id"]
        measured = measured_counts(root, ds)
        for col, value in measured.items():
            published = row.get(col)
            same = (pd.isna(published) and value is None) or (
                value is not None and not pd.isna(published) and str(published) == str(value)
            )
            if not same:
                issues.append(
                    Issue(
                        "error",
                        "catalogue-mismatch",
                        file,
                        f"{ds}: {col} is {_fmt(published)}, the package gives {_fmt(value)}",
                        row=int(pos) + 2,
                        field=col,
                    )
                )
    return issues


def write_report(root: Path, report: Report, path: Path | None = None) -> Path:
    from mosaiq.package import write_files_atomically

    target = path or (root / REPORT_PATH)
    write_files_atomically({target: report.to_json().encode("utf-8")})
    return target
