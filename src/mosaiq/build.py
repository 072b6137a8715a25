"""Raw source -> package, the same way for every dataset.

    source.read() -> quality rules -> ISO coordinates + 1-5 harmonisation -> clip aggregation
    -> write package (clips, clip_languages, responses, exclusions, features)

The dataset's :class:`~mosaiq.sources.base.Source` (from the registry,
:func:`mosaiq.sources.source`) supplies the tidy tables, its scale, the columns it wants
averaged per clip and its table specs; everything else is here, once. This is the only module
that runs adapters: later stages read the package as written (descriptor and schemas on disk).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError, RawInputAbsent
from mosaiq.harmonise import (
    AGE_BAND_LABELS,
    HARMONISED,
    add_iso_coordinates,
    aggregate_clips,
    linear_map,
    straightlined,
)
from mosaiq.layout import BUILT, NOT_BUILT_ABSENT, catalogue_facts, package_dir, read_descriptor
from mosaiq.package import (
    Content,
    empty_columns,
    table_csv_chunks,
    table_to_csv,
    write_files_atomically,
    yaml_bytes,
)
from mosaiq.paq import CENTRINGS, LIKERT_5, PAQ_IDS, Scale
from mosaiq.schema import CLIP_FK, TableSpec, compose, field_names
from mosaiq.settings import data_version, load_params, param
from mosaiq.sources import source
from mosaiq.sources.base import Source, SourceTables, exclusions_frame, raw_file, read_source
from mosaiq.sources.checks import check_source_tables

SHARED_REASONS = {
    "incomplete_paq": "fewer PAQ items rated than build.harmonise.quality.min_paq_items",
    "straightlined": "the same rating, not the scale midpoint, for all eight PAQ items",
    "straightlined_midpoint": "the scale midpoint for all eight PAQ items",
}
STRAIGHTLINING = ("exclude", "keep_midpoint", "keep")

PACKAGE_TABLES = ("clips", "clip_languages", "responses", "exclusions", "features")
SHARED_TABLES = {
    "exclusions": TableSpec(
        name="exclusions",
        title="Exclusions",
        parts=[],
        primary_key=[],
        base="exclusions",
        sort_by=["source_file", "source_row"],
    ),
    "features": TableSpec(
        name="features", title="Feature records", parts=[], primary_key=[], base="feature_record"
    ),
}


def harmonised_columns(src: Source) -> list[str]:
    """PAQ columns on 1-5 that the build adds for a dataset rated on another scale."""
    if src.scale is None or src.scale == LIKERT_5:
        return []
    return [f"{c}{HARMONISED}" for c in PAQ_IDS]


def clip_aggregates(src: Source, responses: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """The dataset's per-clip (or per clip-and-language) aggregates: the one rule of
    :func:`mosaiq.harmonise.aggregate_clips` over its PAQs and its ``mean_columns``."""
    return aggregate_clips(responses, by, [*harmonised_columns(src), *src.mean_columns])


@dataclass
class BuildResult:
    dataset: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    exclusions_by_reason: dict[str, int] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""


def apply_quality_rules(
    src: SourceTables, scale: Scale, quality: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Move responses that fail the shared quality rules to the exclusions, with a reason.

    Rules, in order (a response gets the first that applies): fewer than ``min_paq_items`` PAQ
    items rated (``incomplete_paq``); all eight items the same non-midpoint value
    (``straightlined``); all eight the scale midpoint (``straightlined_midpoint``). The
    ``straightlining`` setting is ``keep_midpoint`` (the default, soundscapy's rule), ``exclude``
    (both) or ``keep``.
    """
    min_items = int(quality.get("min_paq_items", len(PAQ_IDS)))
    policy = quality.get("straightlining", "keep_midpoint")
    if policy not in STRAIGHTLINING:
        raise MosaiqError(
            f"params.yaml build.harmonise.quality.straightlining: {policy!r} "
            f"is not one of {STRAIGHTLINING}"
        )
    if not 0 <= min_items <= len(PAQ_IDS):
        raise MosaiqError(
            "params.yaml build.harmonise.quality.min_paq_items must be between 0 and 8"
        )
    r = src.responses
    rated = r[list(PAQ_IDS)].notna().sum(axis=1)
    constant, midpoint = straightlined(r, scale)
    reasons = pd.Series(pd.NA, index=r.index, dtype="string")
    details = pd.Series(pd.NA, index=r.index, dtype="string")
    incomplete = rated < min_items
    reasons[incomplete] = "incomplete_paq"
    details[incomplete] = rated[incomplete].astype(str) + " of 8 PAQ items rated"
    if policy != "keep":
        hit = constant & reasons.isna()
        reasons[hit] = "straightlined"
        values = r.loc[hit, PAQ_IDS[0]]
        details[hit] = pd.Series(
            [f"all eight PAQ items rated {v:g}" for v in values], index=values.index, dtype="string"
        )
    if policy == "exclude":
        hit = midpoint & reasons.isna()
        reasons[hit] = "straightlined_midpoint"
        details[hit] = f"all eight PAQ items rated {scale.midpoint:g} (scale midpoint)"
    dropped = reasons.notna()
    excluded = pd.DataFrame(
        {
            "source_file": src.source_file,
            "source_row": r.loc[dropped, "source_row"],
            "source_key": r.loc[dropped, "response_id"],
            "reason_code": reasons[dropped],
            "detail": details[dropped],
        }
    )
    parts = [df for df in (src.exclusions, excluded) if not df.empty]
    exclusions = pd.concat(parts, ignore_index=True) if parts else src.exclusions
    return r[~dropped].reset_index(drop=True), exclusions_frame(exclusions)


def build_dataset(root: Path, dataset: str) -> BuildResult:
    """Build ``datasets/<dataset>`` from its raw source; the old files stay if anything fails.

    Without its raw files, a dataset is recorded as "not built: raw input absent" - unless a
    built package is already there (e.g. fetched with ``dvc pull``): that one is kept as it is.
    """
    started = time.perf_counter()
    params = load_params(root)
    declared = source(dataset)
    try:
        tables = read_source(declared, root, params)
    except RawInputAbsent as exc:
        existing = read_descriptor(root, dataset)
        if existing and existing.get("mosaiq", {}).get("build_status") == BUILT:
            meta = existing["mosaiq"]
            result = BuildResult(
                dataset,
                BUILT,
                dict(meta.get("counts", {})),
                note=f"{exc}; kept the built package already here",
            )
        else:
            result = _write(root, declared, params, None, status=NOT_BUILT_ABSENT, reason=str(exc))
            result.note = str(exc)
    else:
        result = _write(
            root, declared, params, _harmonise(root, declared, tables, params), status=BUILT
        )
        result.note = _recognised(root, params, declared, tables)
    result.seconds = time.perf_counter() - started
    return result


def _recognised(root: Path, params: dict[str, Any], declared: Source, src: SourceTables) -> str:
    """Which raw files were read in place of an absent file named in params (recognised by
    their columns), and the params.yaml line that names each for good."""
    by_role = {raw.role: raw for raw in declared.raw_files if raw.layouts}
    said = []
    for found in src.inputs:
        raw = by_role.get(found.role)
        if raw is None:
            continue
        named = raw_file(root, params, declared.dataset_id, raw.key)
        if named is not None and named.resolve() != found.path.resolve():
            said.append(
                f"read {found.path.name} for {raw.param} ({named.name} is absent; recognised by "
                f"its columns; to name it, set `{raw.key}: {json.dumps(found.path.name)}` "
                f"under build.{declared.dataset_id} in params.yaml)"
            )
    return "; ".join(said)


@dataclass
class _Built:
    src: SourceTables
    tables: dict[str, pd.DataFrame]
    harmonisation: dict[str, Any]
    empty: dict[str, list[str]] = field(default_factory=dict)
    """Columns of a table that the source leaves empty in every row: not in its frame."""
    schemas: dict[str, dict] = field(default_factory=dict)
    """The package's Table Schemas, composed once per build."""


def _harmonise(root: Path, declared: Source, src: SourceTables, params: dict[str, Any]) -> _Built:
    schemas = schemas_for(root, declared, params)
    check_source_tables(src, schemas, clips_file=src.clips_file)
    scale = declared.scale
    angle_table = param(params, "build.harmonise.angle_table", "aletta2024")
    quality = param(params, "build.harmonise.quality", {}) or {}
    responses, exclusions = src.responses, src.exclusions
    harmonisation: dict[str, Any] = {}
    if scale is not None:
        responses, exclusions = apply_quality_rules(src, scale, quality)
        # The build holds one frame of responses: the adapter's, in raw order, is let go.
        src.responses = responses
        centring = param(params, "build.harmonise.centring", "scale_midpoint")
        if centring not in CENTRINGS:
            raise MosaiqError(
                f"params.yaml build.harmonise.centring: {centring!r} is not one of {CENTRINGS}"
            )
        responses = add_iso_coordinates(responses, scale, angle_table, centring=centring)
        for col, target in zip(PAQ_IDS, harmonised_columns(declared), strict=False):
            responses[target] = linear_map(responses[col], scale, LIKERT_5)
        harmonisation = {
            "scale": {"minimum": scale.minimum, "maximum": scale.maximum},
            "angle_table": angle_table,
            "centring": centring,
            "quality": {
                "min_paq_items": int(quality.get("min_paq_items", len(PAQ_IDS))),
                "straightlining": quality.get("straightlining", "keep_midpoint"),
            },
        }
    # Columns the source declares empty (Arrow null columns) are carried by name only.
    empty = empty_columns(src.clips)
    # Clips whose every response was excluded carry no rating: they are not published.
    licence = catalogue_facts(root)[declared.dataset_id]["licence"]
    clips = _with_means(
        src.clips.drop(columns=empty),
        clip_aggregates(declared, responses, "clip_id"),
        licence_spdx=licence,
    )
    src.clips = clips  # and one frame of clips
    if declared.finish_clips is not None:
        clips = declared.finish_clips(clips)
    languages = clip_aggregates(declared, responses, ["clip_id", "language"])
    orphans = ~responses["clip_id"].isin(clips["clip_id"])
    if orphans.any():
        raise MosaiqError(
            f"{declared.dataset_id}: {int(orphans.sum())} responses refer to no clip "
            f"(first: {responses.loc[orphans, 'clip_id'].iloc[0]})"
        )
    if len(responses) + len(exclusions) != src.raw_rows:
        raise MosaiqError(
            f"{declared.dataset_id}: {len(responses)} published + {len(exclusions)} excluded "
            f"rows != {src.raw_rows} raw rows; every source row must be published or excluded"
        )
    languages["dataset_id"] = declared.dataset_id  # in place: assign would copy the frame
    return _Built(
        src=src,
        tables={
            "clips": clips,
            "clip_languages": languages,
            "responses": responses,
            "exclusions": exclusions.assign(dataset_id=declared.dataset_id),
        },
        harmonisation=harmonisation,
        empty={"clips": empty},
        schemas=schemas,
    )


def _with_means(clips: pd.DataFrame, means: pd.DataFrame, **constants: Any) -> pd.DataFrame:
    """``clips.merge(means, on="clip_id", how="inner").assign(**constants)``: where the clip IDs
    are unique on both sides (as a build's are), by one lookup and a take per column, without
    the merge's copies and hash tables of both sides."""
    left, right = clips["clip_id"], means["clip_id"]
    shared = set(clips.columns) & set(means.columns) - {"clip_id"}
    if shared or not (left.is_unique and right.is_unique):
        return clips.merge(means, on="clip_id", how="inner").assign(**constants)
    where = pd.Index(right).get_indexer(left)
    kept = np.flatnonzero(where >= 0)
    every = len(kept) == len(clips)
    columns: dict[str, Any] = {
        c: (clips[c] if every else clips[c].take(kept)).array for c in clips.columns
    }
    for c in means.columns.drop("clip_id"):
        columns[c] = means[c].take(where[kept]).array
    columns.update(constants)
    return pd.DataFrame(columns, copy=False)


def table_specs(declared: Source) -> dict[str, TableSpec]:
    languages = TableSpec(
        name="clip_languages",
        title=f"{declared.dataset_id} clip means per questionnaire language",
        parts=["clip_language_keys", *declared.clip_mean_parts],
        primary_key=["clip_id", "language"],
        foreign_keys=CLIP_FK,
    )
    return {**declared.tables, "clip_languages": languages, **SHARED_TABLES}


def schema_values(declared: Source, params: dict[str, Any]) -> dict[str, Any]:
    scale = declared.scale
    values: dict[str, Any] = {
        "dataset_id": declared.dataset_id,
        "angle_table": param(params, "build.harmonise.angle_table", "aletta2024"),
        "reason_codes": sorted({*SHARED_REASONS, *declared.reasons}),
        "age_bands": list(AGE_BAND_LABELS),
        "gender_values": list(declared.gender_values),
        "id_characters": declared.id_characters,
    }
    if scale is not None:
        values.update(
            {"scale": str(scale), "scale.minimum": scale.minimum, "scale.maximum": scale.maximum}
        )
    return values


def schemas_for(root: Path, declared: Source, params: dict[str, Any]) -> dict[str, dict]:
    values = schema_values(declared, params)
    return {name: compose(root, spec, values) for name, spec in table_specs(declared).items()}


def _write(
    root: Path,
    declared: Source,
    params: dict[str, Any],
    built: _Built | None,
    *,
    status: str,
    reason: str = "",
) -> BuildResult:
    ds = declared.dataset_id
    pkg = package_dir(root, ds)
    specs = table_specs(declared)
    schemas = built.schemas if built else schemas_for(root, declared, params)
    tables = built.tables if built else {}
    empty = built.empty if built else {}
    files: dict[Path, Content] = {}
    counts: dict[str, int] = {}
    for name in PACKAGE_TABLES:
        schema = schemas[name]
        files[pkg / "schemas" / f"{name}.schema.yaml"] = yaml_bytes(schema)
        if name == "features":
            # The feature stages own data/features.csv (`mosaiq features collect`); a first
            # build writes it empty so that the package is complete from the start.
            if not (pkg / "data" / "features.csv").is_file():
                files[pkg / "data" / "features.csv"] = table_to_csv(
                    pd.DataFrame({c: pd.Series(dtype="object") for c in field_names(schema)}),
                    schema,
                    table=f"{ds}/features",
                )
            continue
        df = tables.get(name)
        if df is None:
            df = pd.DataFrame({c: pd.Series(dtype="object") for c in field_names(schema)})
        # rendered as it is staged, and streamed: one block of rows in memory at a time
        files[pkg / "data" / f"{name}.csv"] = partial(
            table_csv_chunks,
            df,
            schema,
            sort_by=specs[name].sort_by,
            table=f"{ds}/{name}",
            empty=empty.get(name, ()),
        )
        counts[name] = len(df)
    descriptor = _descriptor(root, declared, params, built, status, reason, counts)
    files[pkg / "datapackage.yaml"] = yaml_bytes(descriptor)
    written = write_files_atomically(files)
    by_reason: dict[str, int] = {}
    if built is not None:
        reasons = built.tables["exclusions"]["reason_code"].value_counts().sort_index()
        by_reason = {str(code): int(n) for code, n in reasons.items()}
    return BuildResult(ds, status, counts, by_reason, written)


def _descriptor(
    root: Path,
    declared: Source,
    params: dict[str, Any],
    built: _Built | None,
    status: str,
    reason: str,
    counts: dict[str, int],
) -> dict[str, Any]:
    ds = declared.dataset_id
    facts = catalogue_facts(root)[ds]
    licence = facts["licence"]
    if licence == "to confirm":
        licenses = [
            {
                "title": f"to confirm: {' '.join(facts['licence_note'].split())}",
                "path": facts["url"],
            }
        ]
    else:
        licenses = [{"name": licence, "path": f"https://spdx.org/licenses/{licence}.html"}]
    mosaiq: dict[str, Any] = {"dataset_id": ds, "build_status": status}
    if reason:  # a fixed text: the message itself names a machine-specific path
        mosaiq["build_note"] = f"place the raw files as described in datasets/{ds}/raw/README.md"
    if built is not None:
        mosaiq["raw_inputs"] = [i.describe() for i in built.src.inputs]
        mosaiq["raw_rows"] = built.src.raw_rows
        mosaiq["counts"] = counts
        if built.harmonisation:
            mosaiq["harmonisation"] = built.harmonisation
        if built.src.notes:
            mosaiq["notes"] = built.src.notes
    mosaiq["reasons"] = dict(sorted({**SHARED_REASONS, **declared.reasons}.items()))
    resources = [
        {
            "name": name,
            "path": f"data/{name}.csv",
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": f"schemas/{name}.schema.yaml",
        }
        for name in PACKAGE_TABLES
    ]
    return {
        "profile": "tabular-data-package",
        "name": f"mosaiq-{ds.lower()}",
        "title": f"MOSAIQ: {facts['title']}",
        "version": data_version(params),
        "description": " ".join(facts["summary"].split()),
        "licenses": licenses,
        "sources": [
            {
                "title": " ".join(facts["citation"].split()),
                "path": f"https://doi.org/{facts['doi']}",
            }
        ],
        "mosaiq": mosaiq,
        "resources": resources,
    }
