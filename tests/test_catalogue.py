"""The catalogue: every record of catalogue/sources.yaml a typed row, provenance flattened,
packaged datasets with their measured counts, the others catalogue-only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from mosaiq.api import read_table
from mosaiq.catalogue import CATALOGUE_ONLY, build_catalogue, measured_counts
from mosaiq.settings import DATASETS
from mosaiq.validate import validate_catalogue


def _catalogue(root: Path) -> pd.DataFrame:
    schema = yaml.safe_load((root / "catalogue/schemas/datasets.schema.yaml").read_text())
    return read_table(root / "catalogue/data/datasets.csv", schema).set_index("dataset_id")


def test_every_record_is_a_typed_row_and_only_packages_have_counts(built_isd):
    cat = _catalogue(built_isd)
    records = yaml.safe_load((built_isd / "catalogue/sources.yaml").read_text())["datasets"]
    assert sorted(cat.index) == sorted(r["dataset_id"] for r in records)
    assert len(cat) == 20
    only = cat.loc[~cat.index.isin(DATASETS)]
    assert (only["build_status"] == CATALOGUE_ONLY).all()
    assert only[["n_clips", "n_responses", "n_participants", "n_raw_rows"]].isna().all().all()
    assert not only["checked"].any()
    assert cat.loc[list(DATASETS), "checked"].all()
    # the recording specifications keep their types
    assert cat["audio_binaural_sampling_rate_hz"].dtype == "Int64"
    assert cat.loc["LCS", "audio_ambisonics_order"] == 3
    assert cat.loc["ISD", "audio_binaural_clip_duration_s"] == 30.0
    assert bool(cat.loc["ARAUS", "audio_ambisonics_available"]) is False
    assert pd.isna(cat.loc["ARAUS", "audio_ambisonics_bit_depth"])  # not applicable: empty
    assert pd.isna(cat.loc["HSDD", "year"])  # unknown: never filled in
    # measured counts of the packaged dataset beside the (corrected) literature counts
    assert cat.loc["ISD", "build_status"] == "built"
    assert cat.loc["ISD", "n_raw_rows"] == cat.loc["ISD", "literature_n_responses"] == 3589
    assert cat.loc["ISD", "n_clips"] == measured_counts(built_isd, "ISD")["n_clips"]
    assert cat.loc["ARAUS", "build_status"].startswith("not built")
    # provenance flattened into columns
    assert cat.loc["ATHUS", "provenance"].endswith("row 3; not checked by MOSAIQ")
    assert cat.loc["ATHUS", "licence"] == "to confirm"
    assert cat.loc["ATHUS", "corrections"].startswith("licence: 'Unknown' -> not checked")
    assert "literature_n_responses: 17441 -> " in cat.loc["SATP", "corrections"]
    assert (cat["licence"] != "Unknown").all()
    report = validate_catalogue(built_isd)
    assert report.status == "valid", report.issues


def test_all_four_packages_keep_their_measured_counts(built_all):
    cat = _catalogue(built_all)
    for ds in DATASETS:
        measured = measured_counts(built_all, ds)
        assert cat.loc[ds, "build_status"] == "built"
        for col in ("n_clips", "n_responses", "n_participants", "n_excluded", "n_raw_rows"):
            assert cat.loc[ds, col] == measured[col], (ds, col)
    # literature and measured counts side by side: DeLTA's paper counts exceed the workbooks'
    assert cat.loc["DeLTA", "literature_n_clips"] > cat.loc["DeLTA", "n_clips"]


def _edit_record(root: Path, dataset: str, **values) -> None:
    path = root / "catalogue/sources.yaml"
    data = yaml.safe_load(path.read_text())
    for record in data["datasets"]:
        if record["dataset_id"] == dataset:
            record.update(values)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def test_a_fact_outside_the_schema_is_refused_and_nothing_is_written(project):
    build_catalogue(project)
    before = (project / "catalogue/data/datasets.csv").read_bytes()
    _edit_record(project, "LCS", microphone_brand="GRAS")
    with pytest.raises(Exception, match="microphone_brand"):
        build_catalogue(project)
    assert (project / "catalogue/data/datasets.csv").read_bytes() == before


def test_a_record_without_provenance_is_refused(project):
    _edit_record(project, "IADS-2", provenance={})
    with pytest.raises(ValueError, match="IADS-2: provenance"):
        build_catalogue(project)


def test_a_value_outside_its_constraint_fails_validation(project):
    _edit_record(project, "Sun2019", experimental_setting="Virtual", audio_binaural_bit_depth=12)
    build_catalogue(project)
    report = validate_catalogue(project)
    assert report.status == "invalid"
    fields = {(i.field, i.row) for i in report.issues}
    assert ("experimental_setting", 18) in fields
    assert ("audio_binaural_bit_depth", 18) in fields


def test_a_count_for_a_catalogue_only_row_is_a_mismatch(project):
    build_catalogue(project)
    path = project / "catalogue/data/datasets.csv"
    frame = pd.read_csv(path, dtype="string", keep_default_na=False)
    frame.loc[frame["dataset_id"] == "LCS", "n_clips"] = "62"
    frame.to_csv(path, index=False, lineterminator="\n")
    report = validate_catalogue(project)
    assert any(
        i.code == "catalogue-mismatch" and i.field == "n_clips" and "LCS" in i.message
        for i in report.issues
    )


def test_croissant_and_the_catalogue_card_cover_every_dataset(built_isd, tmp_path):
    import json
    import shutil

    import mlcroissant as mlc

    from mosaiq import export

    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    path = export.export_croissant(root)
    cat = _catalogue(root)
    dataset = mlc.Dataset(jsonld=str(path))
    records = list(dataset.records(record_set="catalogue"))
    ids = sorted(r["catalogue/dataset_id"].decode() for r in records)
    assert ids == sorted(cat.index)
    meta = json.loads(path.read_text())
    (rs,) = [r for r in meta["recordSet"] if r["@id"] == "catalogue"]
    types = {f["name"]: f["dataType"] for f in rs["field"]}
    assert types["catalogue/audio_binaural_sampling_rate_hz"] == "sc:Integer"
    assert types["catalogue/visual_available"] == "sc:Boolean"
    card = export.catalogue_card(root)
    assert f"{len(cat)} soundscape datasets: 4 packaged by MOSAIQ" in card
    for title in cat["title"]:
        assert f"| {title} |" in card
    assert f"| {cat.loc['ISD', 'literature_n_clips']:,} / {cat.loc['ISD', 'n_clips']:,} |" in card
