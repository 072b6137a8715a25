"""The benchmark as one SQLite database for browsing (``mosaiq db``, stage ``db``).

``exports/mosaiq.db`` holds the catalogue and, for every built package, its tables stacked
across datasets (``clips``, ``clip_languages``, ``responses``, ``exclusions``, ``features``: the
union of the datasets' columns, each row with its ``dataset_id``), the benchmark splits and the
leaderboard. Tables, column types, primary keys, foreign keys and indexes are created by
sqlite-utils from the Frictionless schemas (no SQL DDL is written here): a schema's foreign key
``clip_id -> clips.clip_id`` becomes a SQLite foreign key, and every row's ``dataset_id`` refers
to the catalogue.

``exports/mosaiq.metadata.json`` is the Datasette metadata written beside it: each column's
description and unit from the schemas, facets, canned queries and links to the figures.
Both files are written to temporary names and renamed into place; a failed build leaves the
old ones.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.layout import package_dir, read_descriptor
from mosaiq.package import read_table, write_files_atomically
from mosaiq.settings import DATASETS, data_version, load_params, read_yaml

DB_PATH = Path("exports") / "mosaiq.db"
METADATA_PATH = Path("exports") / "mosaiq.metadata.json"
DB_NAME = "mosaiq"
PLOTS = Path("benchmark") / "plots"
SPLITS = Path("benchmark") / "splits"
RESULTS = Path("benchmark") / "results"
TASKS = Path("benchmark") / "tasks.yaml"
LEADERBOARD = Path("benchmark") / "leaderboard.md"

# Frictionless type -> sqlite-utils column type; anything else is text.
SQLITE_TYPES: dict[str, type] = {"integer": int, "number": float, "boolean": int}
# Facets each table offers, where the column exists.
FACETS = {
    "catalogue": ["build_status", "scenario", "experimental_setting", "access", "licence"],
    "clips": ["dataset_id", "LocationID", "fold"],
    "clip_languages": ["dataset_id", "language"],
    "responses": ["dataset_id", "language", "angle_set"],
    "exclusions": ["dataset_id", "reason_code"],
    "features": ["dataset_id", "feature_type"],
    "splits": ["split", "split_name", "dataset_id"],
    "overlap": ["dataset_a", "dataset_b", "how"],
    "leaderboard": ["dataset_id", "task", "baseline"],
}
INDEXED = ["dataset_id", "clip_id", "language", "LocationID", "reason_code", "split"]


def built_datasets(root: Path) -> list[str]:
    return [
        ds
        for ds in DATASETS
        if (read_descriptor(root, ds) or {}).get("mosaiq", {}).get("build_status") == "built"
    ]


def _column_text(field: dict[str, Any]) -> str:
    text = " ".join(str(field.get("description") or field.get("title") or "").split())
    if field.get("unit"):
        text = f"{text} [unit: {field['unit']}]" if text else f"[unit: {field['unit']}]"
    return text


class _Table:
    """One table of the database, collected from one or more schemas."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.types: dict[str, type] = {}
        self.texts: dict[str, dict[str, str]] = {}
        self.pk: list[str] = []
        self.fks: list[tuple[str, str, str]] = []
        self.frames: list[pd.DataFrame] = []
        self.description = ""

    def add(self, frame: pd.DataFrame, schema: dict[str, Any], label: str) -> None:
        for field in schema["fields"]:
            name = field["name"]
            kind = SQLITE_TYPES.get(field.get("type", "string"), str)
            old = self.types.get(name)
            if old is not None and old is not kind:
                kind = float if {old, kind} <= {int, float} else str
            self.types[name] = kind
            text = _column_text(field)
            if text:
                self.texts.setdefault(name, {})[label] = text
        key = list(schema.get("primaryKey") or [])
        if self.pk and key and key != self.pk:
            raise MosaiqError(f"{self.name}: primary keys differ between datasets")
        self.pk = self.pk or key
        for fk in schema.get("foreignKeys", []):
            if len(fk["fields"]) == 1:
                ref = fk["reference"]
                link = (fk["fields"][0], ref.get("resource") or self.name, ref["fields"][0])
                if link not in self.fks:
                    self.fks.append(link)
        self.description = self.description or " ".join(
            str(schema.get("description") or schema.get("title") or "").split()
        )
        self.frames.append(frame)

    def descriptions(self) -> dict[str, str]:
        out = {}
        for name, by_label in self.texts.items():
            texts = set(by_label.values())
            out[name] = (
                next(iter(texts))
                if len(texts) == 1
                else "; ".join(f"{label}: {t}" for label, t in by_label.items())
            )
        return out


def _write(db: Any, table: _Table, extra_fks: list[tuple[str, str, str]]) -> None:
    fks = [fk for fk in [*table.fks, *extra_fks] if fk[0] in table.types]
    db[table.name].create(
        table.types,
        pk=(table.pk[0] if len(table.pk) == 1 else tuple(table.pk)) if table.pk else None,
        foreign_keys=fks,
    )
    for frame in table.frames:
        try:  # rows appended by pandas (executemany): 3x faster than row dicts
            frame.to_sql(table.name, db.conn, if_exists="append", index=False, chunksize=5000)
        except Exception as exc:  # sqlite3.IntegrityError names the table and key
            ds = frame["dataset_id"].iloc[0] if "dataset_id" in frame and len(frame) else ""
            raise MosaiqError(f"{table.name} ({ds}): {exc}") from exc
    for column in INDEXED:
        if column in table.types and [column] != table.pk:
            db[table.name].create_index([column], if_not_exists=True)


def _package_tables(root: Path, datasets: list[str]) -> dict[str, _Table]:
    tables: dict[str, _Table] = {}
    for ds in datasets:
        pkg = package_dir(root, ds)
        descriptor = read_descriptor(root, ds) or {}
        for res in descriptor.get("resources", []):
            schema = read_yaml(pkg / res["schema"])
            frame = read_table(pkg / res["path"], schema)
            if "dataset_id" not in frame.columns:
                frame.insert(0, "dataset_id", ds)
                schema = {
                    **schema,
                    "fields": [
                        {"name": "dataset_id", "type": "string", "description": "Source dataset."},
                        *schema["fields"],
                    ],
                }
            tables.setdefault(res["name"], _Table(res["name"])).add(frame, schema, ds)
    for name, table in tables.items():
        table.description = (
            f"The {name} tables of the built packages ({', '.join(datasets)}), stacked: "
            "dataset_id names the package; a column a dataset does not have is empty there."
        )
    return tables


def _splits(root: Path) -> _Table | None:
    specs = (read_yaml(root / TASKS).get("splits", {}) if (root / TASKS).is_file() else {}) or {}
    # only the split definitions of benchmark/tasks.yaml (overlap.csv is a table of its own)
    files = [p for p in sorted((root / SPLITS).glob("*.csv")) if p.stem in specs]
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype={"unit_id": "string", "group": "string"})
        if frame.empty:  # the split of a dataset not built here (its header alone)
            continue
        spec = specs.get(path.stem, {})
        frame.insert(0, "split_name", path.stem)
        frame.insert(1, "dataset_id", spec.get("dataset"))
        frame.insert(2, "unit", spec.get("unit"))
        frames.append(frame)
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True)
    frame["fold"] = frame["fold"].astype("Int64")
    table = _Table("splits")
    table.add(
        frame,
        {
            "description": "Benchmark splits (benchmark/splits/*.csv): one row per split and unit.",
            "primaryKey": ["split_name", "unit_id"],
            "fields": [
                {"name": "split_name", "description": "Split definition in benchmark/tasks.yaml."},
                {"name": "dataset_id", "description": "Dataset the split is drawn from."},
                {"name": "unit", "description": "Unit of the split: clip or clip_language."},
                {"name": "unit_id", "description": "The unit's key (clip_id for clip units)."},
                {"name": "group", "description": "Group kept on one side of the split."},
                {"name": "split", "description": "train or test."},
                {"name": "fold", "type": "integer", "description": "Cross-validation fold."},
            ],
        },
        "benchmark",
    )
    return table


def _overlap(root: Path) -> _Table | None:
    path = root / SPLITS / "overlap.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype="string")
    table = _Table("overlap")
    described = {
        "dataset_a": "Dataset of the first clip.",
        "clip_a": "The first clip (clip_id in dataset_a).",
        "dataset_b": "Dataset of the second clip.",
        "clip_b": "The second clip (clip_id in dataset_b): the same recording as clip_a.",
        "recording": "The shared source recording.",
        "how": "How the two clips were established to be the same recording.",
    }
    table.add(
        frame,
        {
            "description": (
                "Cross-dataset overlap (benchmark/splits/overlap.csv): clips of two datasets that "
                "are the same recording; transfer tasks never train on a recording they test on."
            ),
            "primaryKey": ["dataset_a", "clip_a", "dataset_b", "clip_b"],
            "fields": [{"name": n, "description": d} for n, d in described.items()],
        },
        "benchmark",
    )
    return table


METRICS = ("mse", "mae", "rmse", "r2", "pearson_r", "quadrant_accuracy", "mean_average_precision")


def _leaderboard(root: Path) -> _Table | None:
    files = sorted((root / RESULTS).glob("*.json"))
    if not files:
        return None
    rows = []
    for path in files:
        result = json.loads(path.read_text())
        base = {
            "task": result.get("task", path.stem),
            "dataset_id": result.get("dataset"),
            "status": result.get("status"),
            "n_test": result.get("n_test"),
        }
        baselines = result.get("baselines") or {}
        if not baselines:
            rows.append({**base, "baseline": None})
        for name, b in baselines.items():
            summary = b.get("summary") or {}
            rows.append(
                {
                    **base,
                    "baseline": name,
                    "status": b.get("status", base["status"]),
                    **{m: summary.get(m) for m in METRICS},
                }
            )
    frame = pd.DataFrame(
        rows, columns=["task", "baseline", "dataset_id", "status", "n_test", *METRICS]
    )
    frame["n_test"] = frame["n_test"].astype("Int64")
    table = _Table("leaderboard")
    fields = [
        {"name": "task", "description": "Benchmark task (benchmark/tasks.yaml)."},
        {"name": "baseline", "description": "Baseline model."},
        {"name": "dataset_id", "description": "Test dataset."},
        {"name": "status", "description": "ok, or why the task was skipped."},
        {"name": "n_test", "type": "integer", "description": "Test units."},
    ] + [
        {"name": m, "type": "number", "description": f"{m}, averaged over the task's targets."}
        for m in METRICS
    ]
    table.add(
        frame,
        {"description": "Baseline scores (benchmark/results/*.json).", "fields": fields},
        "benchmark",
    )
    return table


def _catalogue(root: Path) -> _Table:
    schema = read_yaml(root / "catalogue/schemas/datasets.schema.yaml")
    frame = read_table(root / "catalogue/data/datasets.csv", schema)
    table = _Table("catalogue")
    table.add(frame, schema, "catalogue")
    return table


def figures(root: Path) -> list[str]:
    return sorted(p.name for p in (root / PLOTS).glob("*.png"))


def _queries(tables: dict[str, _Table]) -> dict[str, dict[str, str]]:
    queries: dict[str, dict[str, str]] = {}
    clips = tables.get("clips")
    responses = tables.get("responses")
    if clips is not None and "LocationID" in clips.types:
        queries["clips_per_location"] = {
            "title": "Clips per location",
            "description": "Clips, responses and mean ISO coordinates per recording location.",
            "sql": (
                "select dataset_id, LocationID as location, count(*) as clips,\n"
                "  sum(n_responses) as responses,\n"
                "  round(avg(mean_ISOPleasant), 4) as mean_ISOPleasant,\n"
                "  round(avg(mean_ISOEventful), 4) as mean_ISOEventful\n"
                "from clips where LocationID is not null\n"
                "group by dataset_id, LocationID order by clips desc"
            ),
        }
    if clips is not None and responses is not None and "ISOPleasant" in responses.types:
        location = "c.LocationID" if "LocationID" in clips.types else "null"
        queries["iso_means_per_location_and_language"] = {
            "title": "ISO coordinates per location and language",
            "description": (
                "Mean ISOPleasant and ISOEventful (equal angles) of complete responses, per "
                "dataset, location (where the dataset has one) and questionnaire language."
            ),
            "sql": (
                f"select r.dataset_id, {location} as location, r.language,\n"
                "  count(*) as responses,\n"
                "  round(avg(r.ISOPleasant), 4) as mean_ISOPleasant,\n"
                "  round(avg(r.ISOEventful), 4) as mean_ISOEventful\n"
                "from responses r join clips c on c.clip_id = r.clip_id\n"
                "where r.ISOPleasant is not null\n"
                "group by r.dataset_id, location, r.language\n"
                "order by r.dataset_id, location, r.language"
            ),
        }
    if "exclusions" in tables:
        queries["exclusions_by_reason"] = {
            "title": "Exclusions by reason",
            "description": "Source rows not published, per dataset and reason code.",
            "sql": (
                "select dataset_id, reason_code, count(*) as rows\n"
                "from exclusions group by dataset_id, reason_code\n"
                "order by dataset_id, rows desc"
            ),
        }
    return queries


def _links(root: Path) -> str:
    items = [
        f'<li><a href="/figures/{name}">{name.removesuffix(".png")}</a></li>'
        for name in figures(root)
    ]
    parts = ['<a href="/-/figures">Figures</a>']
    if (root / RESULTS).is_dir():
        parts.append(f'<a href="/{DB_NAME}/leaderboard">leaderboard</a>')
    links = " · ".join(parts)
    return f"<p>{links}</p>" + (
        f'<ul class="mosaiq-figures">{"".join(items)}</ul>' if items else ""
    )


def metadata(root: Path, tables: dict[str, _Table]) -> dict[str, Any]:
    version = data_version(load_params(root))
    table_meta: dict[str, Any] = {}
    for name, table in tables.items():
        meta: dict[str, Any] = {"columns": table.descriptions()}
        if table.description:
            meta["description"] = table.description
        facets = [f for f in FACETS.get(name, []) if f in table.types]
        if facets:
            meta["facets"] = facets
        if name == "clips":
            meta["label_column"] = "clip_id"
        if name == "catalogue":
            meta["label_column"] = "dataset_id"
            meta["description_html"] = (
                "<p>Every soundscape dataset MOSAIQ knows of: the four it packages (with the "
                "counts measured from their packages) and those it only catalogues. Facts are "
                "literature claims; <code>provenance</code>, <code>corrections</code> and "
                "<code>check_note</code> say where each row comes from and what was checked.</p>"
                + _links(root)
            )
        table_meta[name] = meta
    return {
        "title": f"MOSAIQ {version}",
        "description_html": (
            "A standardised multimodal benchmark for soundscape AI research. " + _links(root)
        ),
        "license": "Per source dataset: see the catalogue's licence column",
        "source": "MOSAIQ",
        "databases": {
            DB_NAME: {
                "tables": table_meta,
                "queries": _queries(tables),
            }
        },
    }


def build_database(root: Path) -> tuple[Path, Path]:
    """Write ``exports/mosaiq.db`` and its Datasette metadata from the packages on disk."""
    import sqlite_utils

    datasets = built_datasets(root)
    tables = {"catalogue": _catalogue(root), **_package_tables(root, datasets)}
    for extra in (_splits(root), _overlap(root), _leaderboard(root)):
        if extra is not None:
            tables[extra.name] = extra
    target = root / DB_PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".mosaiq.db.", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db = sqlite_utils.Database(tmp, recreate=True)
        db.conn.execute("pragma journal_mode = off")
        db.conn.execute("pragma synchronous = off")
        dataset_fk = [("dataset_id", "catalogue", "dataset_id")]
        for name, table in tables.items():
            _write(db, table, [] if name == "catalogue" else dataset_fk)
        db.conn.commit()
        db.vacuum()
        db.close()
        meta = json.dumps(metadata(root, tables), indent=2, ensure_ascii=False) + "\n"
        write_files_atomically({root / METADATA_PATH: meta.encode()})
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return target, root / METADATA_PATH
