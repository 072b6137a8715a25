"""Exports generated from the built, validated packages.

- ``exports/parquet/<DS>/<table>.parquet``: every table with the schema's types (nullable
  integers stay integers), plus ``exports/parquet/README.md``, a dataset card whose front matter
  lists ``configs:`` in the Hugging Face style, so ``datasets.load_dataset("parquet",
  data_files=...)`` and ``pandas.read_parquet`` read them directly;
- ``exports/croissant.json``: Croissant (MLCommons) JSON-LD metadata of the benchmark: one record
  set per table, fields with types and descriptions, foreign keys as references, licence and
  citation per source, every CSV as a file object with its sha256;
- ``exports/cards/<DS>.md``: a data card per dataset in datasheet sections, every number in it
  measured from the catalogue and the package; ``exports/cards/catalogue.md``: the catalogue of
  every soundscape dataset (packaged or catalogue-only) with its recording specifications.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.layout import BUILT, file_digest, package_dir, read_descriptor, require_descriptor
from mosaiq.package import read_table, write_files_atomically
from mosaiq.settings import DATASETS, data_version, load_params, param, read_yaml

EXPORTS = Path("exports")
CROISSANT_TYPES = {
    "string": "sc:Text",
    "number": "sc:Float",
    "integer": "sc:Integer",
    "boolean": "sc:Boolean",
}
CROISSANT_CONTEXT = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "equivalentProperty": "cr:equivalentProperty",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
}


def built(root: Path) -> list[str]:
    return [
        ds
        for ds in DATASETS
        if (read_descriptor(root, ds) or {}).get("mosaiq", {}).get("build_status") == BUILT
    ]


def _tables(root: Path, dataset: str) -> list[tuple[str, Path, dict[str, Any]]]:
    pkg = package_dir(root, dataset)
    descriptor = require_descriptor(root, dataset)
    return [
        (r["name"], pkg / r["path"], read_yaml(pkg / r["schema"])) for r in descriptor["resources"]
    ]


def _arrow_table(df: pd.DataFrame, schema: dict[str, Any]):
    import pyarrow as pa

    types = {
        "integer": pa.int64(),
        "number": pa.float64(),
        "boolean": pa.bool_(),
        "string": pa.string(),
    }
    fields, arrays = [], []
    for f in schema["fields"]:
        t = types.get(f.get("type", "string"), pa.string())
        meta = {k: str(f[k]) for k in ("description", "unit", "title") if f.get(k)}
        fields.append(pa.field(f["name"], t, nullable=True, metadata=meta or None))
        arrays.append(pa.array(df[f["name"]], type=t, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def export_parquet(root: Path) -> list[Path]:
    import pyarrow.parquet as pq

    out_dir = root / EXPORTS / "parquet"
    files: dict[Path, bytes] = {}
    configs = []
    for ds in built(root):
        for name, path, schema in _tables(root, ds):
            table = _arrow_table(read_table(path, schema), schema)
            buf = io.BytesIO()
            pq.write_table(table, buf, compression="zstd")
            target = out_dir / ds / f"{name}.parquet"
            files[target] = buf.getvalue()
            configs.append((f"{ds}-{name}", f"{ds}/{name}.parquet", table.num_rows))
    files[out_dir / "README.md"] = _parquet_card(root, configs).encode()
    write_files_atomically(files)
    return sorted(files)


def _parquet_card(root: Path, configs: list[tuple[str, str, int]]) -> str:
    params = load_params(root)
    lines = [
        "---",
        "pretty_name: MOSAIQ",
        f"version: {data_version(params)}",
        "license: other",
        "configs:",
    ]
    # an empty table is written (a valid, schema-typed file) but not advertised as a config:
    # loaders such as Hugging Face `datasets` refuse a config without rows
    for name, path, rows in configs:
        if not rows:
            continue
        lines += [
            f"- config_name: {name}",
            "  data_files:",
            "  - split: train",
            f"    path: {path}",
        ]
    lines += [
        "---",
        "",
        "# MOSAIQ tables as Parquet",
        "",
        "Every table of every built MOSAIQ package, with the types of its Frictionless "
        "schema (nullable integers stay integers; field descriptions and units are kept "
        "as field metadata). The split named `train` is only the loader's default name: "
        "the benchmark's splits are defined by its tasks.",
        "",
        "```python",
        "import pandas as pd",
        'clips = pd.read_parquet("ISD/clips.parquet")',
        "",
        "from datasets import load_dataset",
        'ds = load_dataset("parquet", data_files="ISD/clips.parquet")',
        "```",
        "",
        "| config | file | rows |",
        "|---|---|---|",
    ]
    lines += [
        f"| {n} | {p} | {r:,} |" if r else f"| (not a config: empty) | {p} | 0 |"
        for n, p, r in configs
    ]
    lines += [
        "",
        "Licences differ per source dataset: see `catalogue/data/datasets.csv` and each "
        "package's `datapackage.yaml`. Cite MOSAIQ and every source dataset you use.",
        "",
    ]
    return "\n".join(lines)


def croissant(root: Path) -> dict[str, Any]:
    params = load_params(root)
    catalogue = read_table(
        root / "catalogue/data/datasets.csv",
        read_yaml(root / "catalogue/schemas/datasets.schema.yaml"),
    )
    facts = catalogue.set_index("dataset_id")
    distribution, record_sets = [], []
    for ds in built(root):
        for name, path, schema in _tables(root, ds):
            if _header_only(path):  # an empty table is no record set (as in the Parquet card)
                continue
            file_id = f"{ds}/{name}.csv"
            distribution.append(
                {
                    "@type": "cr:FileObject",
                    "@id": file_id,
                    "name": file_id,
                    "description": f"{ds} {name} table (CSV)",
                    # relative to this metadata file (exports/croissant.json)
                    "contentUrl": os.path.relpath(path, root / EXPORTS),
                    "encodingFormat": "text/csv",
                    "sha256": file_digest(path),
                }
            )
            rs_id = f"{ds}_{name}"
            fields = []
            refs = {
                fk["fields"][0]: fk["reference"]
                for fk in schema.get("foreignKeys", [])
                if len(fk["fields"]) == 1
            }
            for f in schema["fields"]:
                field: dict[str, Any] = {
                    "@type": "cr:Field",
                    "@id": f"{rs_id}/{f['name']}",
                    "name": f"{rs_id}/{f['name']}",
                    "description": " ".join(
                        str(f.get("description") or f.get("title") or f["name"]).split()
                    ),
                    "dataType": CROISSANT_TYPES.get(f.get("type", "string"), "sc:Text"),
                    "source": {"fileObject": {"@id": file_id}, "extract": {"column": f["name"]}},
                }
                if f["name"] in refs:
                    ref = refs[f["name"]]
                    field["references"] = {
                        "field": {"@id": f"{ds}_{ref['resource']}/{ref['fields'][0]}"}
                    }
                fields.append(field)
            record = {
                "@type": "cr:RecordSet",
                "@id": rs_id,
                "name": rs_id,
                "description": schema.get("title", name),
                "field": fields,
            }
            key = schema.get("primaryKey") or []
            if key:
                record["key"] = (
                    [{"@id": f"{rs_id}/{k}"} for k in key]
                    if len(key) > 1
                    else {"@id": f"{rs_id}/{key[0]}"}
                )
            record_sets.append(record)
    sources = [
        {
            "@type": "sc:Dataset",
            "name": row["title"],
            "citation": row["citation"],
            "identifier": f"https://doi.org/{row['doi']}",
            "license": row["licence"],
        }
        for _, row in facts.loc[built(root)].reset_index().iterrows()
    ]
    catalogue_file, catalogue_records = _catalogue_croissant(root)
    distribution.append(catalogue_file)
    record_sets.append(catalogue_records)
    return {
        "@context": CROISSANT_CONTEXT,
        "@type": "sc:Dataset",
        "name": "MOSAIQ",
        "description": (
            "A standardised multimodal benchmark for soundscape AI research: "
            "perceptual ratings (ISO/TS 12913 PAQs and ISO coordinates, or "
            "annoyance), clip metadata, acoustic indicators and visual features of "
            + ", ".join(built(root))
            + " under one schema."
        ),
        "conformsTo": "http://mlcommons.org/croissant/1.0",
        "version": data_version(params),
        **({"url": url} if (url := param(params, "release.url")) else {}),
        "datePublished": date_published(root, params),
        "license": sorted({str(v) for v in facts.loc[built(root), "licence"]}),
        "citeAs": (
            "MOSAIQ benchmark, version " + data_version(params) + "; and the source "
            "datasets: " + " | ".join(facts.loc[built(root), "citation"].str.strip())
        ),
        "isBasedOn": sources,
        "distribution": distribution,
        "recordSet": record_sets,
    }


def _catalogue_croissant(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The catalogue (every soundscape dataset, packaged or not) as a file object and record set."""
    path = root / "catalogue/data/datasets.csv"
    schema = read_yaml(root / "catalogue/schemas/datasets.schema.yaml")
    file_id, rs_id = "catalogue/datasets.csv", "catalogue"
    file_object = {
        "@type": "cr:FileObject",
        "@id": file_id,
        "name": file_id,
        "description": "The catalogue of soundscape datasets (CSV)",
        "contentUrl": os.path.relpath(path, root / EXPORTS),
        "encodingFormat": "text/csv",
        "sha256": file_digest(path),
    }
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"{rs_id}/{f['name']}",
            "name": f"{rs_id}/{f['name']}",
            "description": " ".join(str(f.get("description") or f["name"]).split()),
            "dataType": CROISSANT_TYPES.get(f.get("type", "string"), "sc:Text"),
            "source": {"fileObject": {"@id": file_id}, "extract": {"column": f["name"]}},
        }
        for f in schema["fields"]
    ]
    record_set = {
        "@type": "cr:RecordSet",
        "@id": rs_id,
        "name": rs_id,
        "description": " ".join(str(schema.get("description", "")).split()),
        "field": fields,
        "key": {"@id": f"{rs_id}/dataset_id"},
    }
    return file_object, record_set


def catalogue_card(root: Path) -> str:
    """A card for the catalogue: every dataset with its specifications, counts and provenance."""
    cat = read_table(
        root / "catalogue/data/datasets.csv",
        read_yaml(root / "catalogue/schemas/datasets.schema.yaml"),
    )
    packaged = cat[cat["dataset_id"].isin(DATASETS)]

    def audio(row: pd.Series) -> str:
        kinds = []
        for kind in ("ambisonics", "binaural", "monaural"):
            if row.get(f"audio_{kind}_available") is True:
                rate = row.get(f"audio_{kind}_sampling_rate_hz")
                bits = row.get(f"audio_{kind}_bit_depth")
                spec = "/".join(
                    s
                    for s in (
                        f"{int(bits)}-bit" if not pd.isna(bits) else "",
                        f"{int(rate) / 1000:g} kHz" if not pd.isna(rate) else "",
                    )
                    if s
                )
                kinds.append(f"{kind} ({spec})" if spec else kind)
        return ", ".join(kinds) or "–"

    def cell(value: Any) -> str:
        return "–" if value is None or pd.isna(value) else str(value).replace("|", "/")

    lines = [
        "# Data card: MOSAIQ catalogue of soundscape datasets",
        "",
        f"{len(cat)} soundscape datasets: {len(packaged)} packaged by MOSAIQ "
        f"({', '.join(sorted(packaged['dataset_id']))}) and {len(cat) - len(packaged)} "
        "catalogue-only. Facts are literature claims transcribed from the inventory of the "
        "original MOSAIQ catalogue; the packaged datasets were checked against their files "
        f"and source records. {int(cat['corrections'].notna().sum())} rows carry corrections "
        f"of the inventory; {int((cat['licence'] == 'to confirm').sum())} licences are "
        '"to confirm" (not checked). Columns, types and constraints: '
        "`catalogue/schemas/datasets.schema.yaml`.",
        "",
        "| dataset | year | setting | audio | visual | annotation | licence | build status "
        "| clips (literature / measured) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for _, row in cat.iterrows():
        visual = (
            " ".join(
                str(v) for v in (row["visual_format"], row["visual_resolution"]) if not pd.isna(v)
            )
            if row["visual_available"] is True
            else "–"
        )
        lines.append(
            f"| {cell(row['title'])} | {cell(row['year'])} | {cell(row['experimental_setting'])} "
            f"| {audio(row)} | {visual or '–'} | {cell(row['annotation_framework'])} "
            f"| {cell(row['licence'])} | {cell(row['build_status'])} "
            f"| {_num(row['literature_n_clips'])} / "
            f"{'–' if pd.isna(row['n_clips']) else _num(row['n_clips'])} |"
        )
    lines += [
        "",
        "Where a literature count differs from the count measured in a package, both are kept "
        "(`literature_n_*` beside `n_*`); `corrections` and `check_note` say why.",
        "",
    ]
    return "\n".join(lines)


def _header_only(path: Path) -> bool:
    """True for a CSV table with a header and no rows."""
    with path.open("rb") as fh:
        fh.readline()
        return not fh.readline().strip()


def date_published(root: Path, params: dict[str, Any]) -> str:
    """The Croissant ``datePublished``: CITATION.cff's ``date-released`` (written by
    ``mosaiq release``), else ``release.date`` in params.yaml (the date of the data version).
    Never the clock: the metadata of a commit is the same bytes whenever it is exported."""
    found: Any = None
    cff = root / "CITATION.cff"
    if cff.is_file():
        found = (read_yaml(cff) or {}).get("date-released")
    where = "CITATION.cff date-released"
    if not found:
        found, where = param(params, "release.date"), "params.yaml release.date"
    if not found:
        raise MosaiqError(
            "no publication date for the Croissant metadata: set release.date in params.yaml "
            "(YYYY-MM-DD), or date-released in CITATION.cff (`mosaiq release` writes it)"
        )
    text = str(found).strip()
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError as exc:
        raise MosaiqError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from exc


def export_croissant(root: Path) -> Path:
    target = root / EXPORTS / "croissant.json"
    text = json.dumps(croissant(root), indent=2, ensure_ascii=False) + "\n"
    write_files_atomically({target: text.encode()})
    return target


def data_card(root: Path, dataset: str) -> str:
    from mosaiq.catalogue import measured_counts
    from mosaiq.sources import source

    cat = read_table(
        root / "catalogue/data/datasets.csv",
        read_yaml(root / "catalogue/schemas/datasets.schema.yaml"),
    )
    f = cat.set_index("dataset_id").loc[dataset]
    descriptor = require_descriptor(root, dataset)
    meta = descriptor["mosaiq"]
    m = measured_counts(root, dataset)
    tables = {name: read_table(path, schema) for name, path, schema in _tables(root, dataset)}
    responses, clips = tables["responses"], tables["clips"]
    lang = responses["language"].value_counts().sort_index()
    confirmed = str(f["licence"]) != "to confirm"
    committed = (
        "git ("
        + (
            "the source licence allows it"
            if confirmed
            else "the source file is publicly redistributed; its licence is to confirm (above)"
        )
        + ")"
        if source(dataset).committed
        else "the DVC remote only (built from the user's own download, never committed)"
    )
    # a pre-averaged panel (e.g. a test set published as means over listeners) is not a person
    pre_averaged = responses.get("source_flags", pd.Series(dtype="string")).fillna("")
    pre_averaged = pre_averaged.str.contains("pre_averaged")
    people = int(responses.loc[~pre_averaged, "participant_id"].nunique())
    pseudo = int(responses.loc[pre_averaged, "participant_id"].nunique())
    pseudo_text = (
        f" (not counting {pseudo} pseudo-participant(s) that stand for pre-averaged panel "
        f"means: {', '.join(sorted(responses.loc[pre_averaged, 'participant_id'].unique()))})"
        if pseudo
        else ""
    )
    has_features = len(tables.get("features", [])) > 0
    inputs = [
        *(
            ["acoustic indicators"]
            if "acoustic_indicators" in str(f["modalities"])
            and any(
                fld.get("unit") not in (None, "s")
                and fld["name"] in clips.columns
                and clips[fld["name"]].notna().any()
                for fld in _clip_fields(root, dataset)
            )
            else []
        ),
        *(["visual features"] if has_features else []),
    ]
    from_inputs = (
        f" from its {' and '.join(inputs)}"
        if inputs
        else " (this package holds ratings only: no acoustic or visual features)"
    )
    lines = [
        f"# Data card: {f['title']}",
        "",
        f"MOSAIQ package `datasets/{dataset}`, version {descriptor['version']}. "
        "Every number below is measured from the package.",
        "",
        "## Motivation",
        "",
        " ".join(str(f["summary"]).split()),
        "",
        f"Source: {' '.join(str(f['citation']).split())} (doi:{f['doi']}).",
        "",
        "## Composition",
        "",
        f"- clips (table `clips`): {m['n_clips']:,}; responses (table `responses`): "
        f"{m['n_responses']:,}; participants (distinct `participant_id` in `responses`): "
        f"{people:,}{pseudo_text}; raw rows (the raw input files): {m['n_raw_rows']:,}; excluded "
        f"rows (table `exclusions`): {m['n_excluded']:,}",
        f"- literature counts: clips {_num(f['literature_n_clips'])}, responses "
        f"{_num(f['literature_n_responses'])}, participants "
        f"{_num(f['literature_n_participants'])}",
        "- responses per language (table `responses`): "
        + ", ".join(f"{k} {v:,}" for k, v in lang.items()),
        "- tables: "
        + ", ".join(f"{n} ({len(t):,} rows, {len(t.columns)} columns)" for n, t in tables.items()),
        "",
        "## Collection",
        "",
        f"- setting: {f['setting']}",
        f"- rating framework: {f['rating_framework']}; scale: {f['rating_scale']}",
        f"- modalities: {str(f['modalities']).replace(';', ', ')}",
        "",
        "## Preprocessing done here",
        "",
    ]
    lines += _preprocessing(meta, tables)
    lines += [
        "",
        "## Uses",
        "",
        "Benchmarking models of soundscape perception (ISO Pleasant/Eventful, PAQ means"
        + (", annoyance, sound-source tags" if "annoyance" in responses.columns else "")
        + ")"
        + from_inputs
        + "; cross-dataset and "
        "cross-lingual comparisons through the shared schema. Not for identifying or "
        "profiling people: personal data is not published.",
        "",
        "## Distribution and licence",
        "",
        f"- licence: {f['licence']} ({' '.join(str(f['licence_note']).split())})",
        f"- tables are distributed through {committed}",
        "- cite the source dataset (above) and the MOSAIQ release",
        "",
        "## Maintenance",
        "",
        "Rebuilt by `dvc repro` from the raw source; changes are listed in CHANGELOG.md "
        "and releases are git tags (`vX.Y.Z`). Report problems in the repository's issue "
        "tracker.",
        "",
    ]
    return "\n".join(lines)


def _preprocessing(meta: dict[str, Any], tables: dict[str, pd.DataFrame]) -> list[str]:
    """The data card's lines on what the build did: harmonisation, exclusions, flags, inputs."""
    excl = tables["exclusions"]["reason_code"].value_counts().sort_index()
    reasons = meta.get("reasons", {})
    responses, clips = tables["responses"], tables["clips"]
    flags = responses.get("source_flags", pd.Series(dtype="string")).dropna()
    flag_counts = flags.str.split(";").explode().value_counts().sort_index()
    clip_flags = clips.get("source_flags", pd.Series(dtype="string")).dropna()
    clip_flag_counts = clip_flags.str.split(";").explode().value_counts().sort_index()
    harm = meta.get("harmonisation", {})
    lines: list[str] = []
    if harm:
        q = harm["quality"]
        lines += [
            f"- ISO coordinates on the {harm['scale']['minimum']:g}-{harm['scale']['maximum']:g}"
            f" scale; equal angles (the ISO/TS 12913-3 formula) and language angles from the "
            f"`{harm['angle_table']}` table, centred on "
            + (
                "each response's own mean (row-mean, ipsatised)"
                if harm.get("centring") == "row_mean"
                else "the scale midpoint"
            ),
            f"- quality rules: at least {q['min_paq_items']} PAQ items rated; straight-lining: "
            f"{q['straightlining']}",
        ]
    lines += ["- exclusions by reason (table `exclusions`):"]
    lines += [f"  - `{code}` ({reasons.get(code, '')}): {n:,}" for code, n in excl.items()] or [
        "  - none"
    ]
    if len(flag_counts) or len(clip_flag_counts):
        lines += [
            "- kept rows with source flags (tables `responses` and `clips`): "
            + ", ".join(
                f"`{k}` {v:,}" for k, v in [*flag_counts.items(), *clip_flag_counts.items()]
            )
        ]
    for raw in meta.get("raw_inputs", []):
        lines += [f"- raw input: {raw['file']} ({raw['rows']:,} rows, sha256 {raw['sha256']})"]
    return lines


def _clip_fields(root: Path, dataset: str) -> list[dict[str, Any]]:
    """The fields of the package's clips schema on disk."""
    path = root / "datasets" / dataset / "schemas" / "clips.schema.yaml"
    return list(read_yaml(path).get("fields", [])) if path.is_file() else []


def _num(value: Any) -> str:
    return "not reported" if value is None or pd.isna(value) else f"{int(value):,}"


def export_cards(root: Path) -> list[Path]:
    files = {
        root / EXPORTS / "cards" / f"{ds}.md": data_card(root, ds).encode() for ds in built(root)
    }
    files[root / EXPORTS / "cards" / "catalogue.md"] = catalogue_card(root).encode()
    write_files_atomically(files)
    return sorted(files)
