"""Validation of every package: Frictionless, plus the checks Table Schema cannot express.

Frictionless checks types, ranges, enums, patterns, primary keys and foreign keys. The project's
own checks add:

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
import multiprocessing
import os
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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
                "frictionless",
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
    descriptors = [package_dir(root, ds) / "datapackage.yaml" for ds in names]
    catalogue = root / "catalogue" / "datapackage.yaml"
    checked = frictionless_issues(root, [d for d in (*descriptors, catalogue) if d.is_file()])
    reports = [
        validate_dataset(root, ds, tolerance, checked.get(d))
        for ds, d in zip(names, descriptors, strict=True)
    ]
    reports.append(validate_catalogue(root, checked.get(catalogue)))
    return Report(reports)


def _missing_files(root: Path, descriptor_path: Path) -> list[Issue]:
    base = descriptor_path.parent
    issues = []
    for res in read_yaml(descriptor_path).get("resources", []):
        for key in ("path", "schema"):
            target = base / res[key] if isinstance(res.get(key), str) else None
            if target is not None and not target.is_file():
                issues.append(
                    Issue(
                        "error",
                        "missing-file",
                        _rel(root, target),
                        f"{key} of resource {res['name']!r} does not exist",
                    )
                )
    return issues


def _frictionless_resource(root: str, descriptor: str, name: str) -> tuple[int, list[Issue]]:
    """Frictionless on one resource of a package (its foreign keys resolved in the package)."""
    from frictionless import Package

    root_path, descriptor_path = Path(root), Path(descriptor)
    package = Package(descriptor)
    resource = package.get_resource(name)
    report = resource.validate()
    place = _rel(root_path, descriptor_path.parent / resource.path)
    issues = [
        Issue("error", err.type, _rel(root_path, descriptor_path), err.message)
        for err in report.errors
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


def _resource_bytes(descriptor: Path, name: str) -> int:
    res = next(r for r in read_yaml(descriptor)["resources"] if r["name"] == name)
    return (descriptor.parent / res["path"]).stat().st_size


def frictionless_issues(
    root: Path, descriptors: list[Path], workers: int | None = None
) -> dict[Path, tuple[list[Issue], dict[str, int]]]:
    """Frictionless validation of packages, resource by resource on all cores.

    Returns, per descriptor, the issues (each naming file, row and field) and the rows per
    resource. A package with a missing file is reported as such and not validated further.
    """
    results: dict[Path, tuple[list[Issue], dict[str, int]]] = {}
    tasks = []
    for descriptor in descriptors:
        missing = _missing_files(root, descriptor)
        results[descriptor] = (missing, {})
        if not missing:
            tasks.extend((descriptor, res["name"]) for res in read_yaml(descriptor)["resources"])
    # largest files first, so that the workers finish together
    tasks.sort(key=lambda t: -_resource_bytes(*t))
    workers = min(workers or os.cpu_count() or 1, len(tasks)) or 1
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        # fork (where available) reuses the imported modules instead of re-importing them
        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [pool.submit(_frictionless_resource, str(root), str(d), n) for d, n in tasks]
            outcomes = [f.result() for f in futures]
    else:
        outcomes = [_frictionless_resource(str(root), str(d), n) for d, n in tasks]
    for (descriptor, name), (rows, issues) in zip(tasks, outcomes, strict=True):
        results[descriptor][0].extend(issues)
        results[descriptor][1][name] = rows
    return results


def validate_dataset(
    root: Path,
    dataset: str,
    tolerance: float = 1e-9,
    checked: tuple[list[Issue], dict[str, int]] | None = None,
) -> PackageReport:
    pkg = package_dir(root, dataset)
    descriptor_path = pkg / "datapackage.yaml"
    if not descriptor_path.is_file():
        issue = Issue(
            "warning", "not-built", _rel(root, descriptor_path), f"{dataset} has no package yet"
        )
        return PackageReport(dataset, "not built", [issue], {})
    descriptor = read_yaml(descriptor_path)
    meta = descriptor.get("mosaiq", {})
    status = meta.get("build_status", "unknown")
    if checked is None:
        checked = frictionless_issues(root, [descriptor_path])[descriptor_path]
    issues, rows = list(checked[0]), dict(checked[1])
    if status != BUILT:
        issues.append(Issue("warning", "not-built", _rel(root, descriptor_path), status))
        return PackageReport(
            dataset, "not built" if not _errors(issues) else "invalid", issues, rows
        )
    if not any(i.code == "missing-file" for i in issues):
        issues.extend(_semantic_issues(root, pkg, descriptor, tolerance))
    return PackageReport(dataset, "invalid" if _errors(issues) else "valid", issues, rows)


def _errors(issues: list[Issue]) -> bool:
    return any(i.severity == "error" for i in issues)


def load_package_tables(
    pkg: Path, descriptor: dict[str, Any]
) -> tuple[dict[str, pd.DataFrame], bool]:
    """The package's tables typed by their schemas; ``False`` if any cell does not parse (then
    the tables are text, and Frictionless has already reported where)."""
    tables, typed = {}, True
    for res in descriptor["resources"]:
        schema = read_yaml(pkg / res["schema"])
        try:
            tables[res["name"]] = read_table(pkg / res["path"], schema)
        except (ValueError, TypeError):
            typed = False
            tables[res["name"]] = pd.read_csv(pkg / res["path"], dtype=str)
    return tables, typed


def _semantic_issues(
    root: Path, pkg: Path, descriptor: dict[str, Any], tolerance: float
) -> list[Issue]:
    meta = descriptor["mosaiq"]
    tables, typed = load_package_tables(pkg, descriptor)
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
    key = published[keys].astype(str).agg("\x1f".join, axis=1)
    expected = expected.assign(_key=expected[keys].astype(str).agg("\x1f".join, axis=1))
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


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "empty"
    return f"{value:.10g}" if isinstance(value, (float, np.floating)) else str(value)


def validate_catalogue(
    root: Path, checked: tuple[list[Issue], dict[str, int]] | None = None
) -> PackageReport:
    from mosaiq.catalogue import measured_counts

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
        checked = frictionless_issues(root, [descriptor_path])[descriptor_path]
    issues, rows = list(checked[0]), dict(checked[1])
    if any(i.code == "missing-file" for i in issues):
        return PackageReport(name, "invalid", issues, rows)
    descriptor = read_yaml(descriptor_path)
    res = descriptor["resources"][0]
    table = read_table(
        root / "catalogue" / res["path"], read_yaml(root / "catalogue" / res["schema"])
    )
    file = _rel(root, root / "catalogue" / res["path"])
    for pos, row in table.iterrows():
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
    return PackageReport(name, "invalid" if _errors(issues) else "valid", issues, rows)


def write_report(root: Path, report: Report, path: Path | None = None) -> Path:
    from mosaiq.package import write_files_atomically

    target = path or (root / REPORT_PATH)
    write_files_atomically({target: report.to_json().encode("utf-8")})
    return target
