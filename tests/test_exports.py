"""Parquet copies with the schema's types, a Hugging Face-style card, Croissant metadata that
mlcroissant loads and reads, and data cards whose numbers are measured."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

import mosaiq
from mosaiq import export


@pytest.fixture(scope="module")
def exported(built_all, tmp_path_factory):
    root = tmp_path_factory.mktemp("exports") / "project"
    shutil.copytree(built_all, root)
    export.export_parquet(root)
    export.export_croissant(root)
    export.export_cards(root)
    return root


def test_parquet_keeps_the_schema_types_and_every_row(exported):
    import pyarrow.parquet as pq

    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        for table in ("clips", "responses", "exclusions"):
            path = exported / "exports/parquet" / ds / f"{table}.parquet"
            frame = pd.read_parquet(path)
            assert len(frame) == len(mosaiq.load(ds, table, root=exported))
    schema = pq.read_schema(exported / "exports/parquet/ISD/clips.parquet")
    assert str(schema.field("n_responses").type) == "int64"
    assert str(schema.field("mean_ISOPleasant").type) == "double"
    assert schema.field("LAeq_dBA").metadata[b"unit"] == b"dBA"
    clips = pd.read_parquet(exported / "exports/parquet/ISD/clips.parquet")
    original = mosaiq.load("ISD", "clips", root=exported)
    pd.testing.assert_series_equal(clips["mean_ISOEventful"], original["mean_ISOEventful"])
    delta = pd.read_parquet(
        exported / "exports/parquet/DeLTA/responses.parquet", dtype_backend="numpy_nullable"
    )
    assert delta["annoyance"].isna().sum() == 12  # nullable integers stay integers
    assert str(delta["annoyance"].dtype) == "Int64"


def test_dataset_card_front_matter_lists_every_parquet_file(exported):
    text = (exported / "exports/parquet/README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    names = {c["config_name"] for c in front["configs"]}
    assert {"ISD-clips", "ARAUS-responses", "SATP-clip_languages"} <= names
    for config in front["configs"]:
        for files in config["data_files"]:
            assert (exported / "exports/parquet" / files["path"]).is_file()
    # every table is written; only the tables with rows are configs
    for path in sorted((exported / "exports/parquet").glob("*/*.parquet")):
        ds, table = path.parent.name, path.stem
        rows = len(pd.read_parquet(path))
        assert (f"{ds}-{table}" in names) == (rows > 0), path
    assert "DeLTA-features" not in names and "DeLTA-exclusions" not in names


def test_every_config_of_the_card_loads_in_hugging_face_datasets(exported, tmp_path):
    """`datasets` itself reads the card's configs (offline); each equals mosaiq.load."""
    import os

    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets

    folder = exported / "exports/parquet"
    front = yaml.safe_load((folder / "README.md").read_text().split("---")[1])
    assert front["configs"]
    for config in front["configs"]:
        ds, table = config["config_name"].split("-", 1)
        loaded = datasets.load_dataset(
            str(folder), config["config_name"], cache_dir=str(tmp_path / "hf")
        )
        frame = loaded["train"].to_pandas()
        original = mosaiq.load(ds, table, root=exported)
        assert list(frame.columns) == list(original.columns), config["config_name"]
        assert len(frame) == len(original) > 0
        pd.testing.assert_frame_equal(
            frame.astype(object).where(frame.notna(), None),
            original.astype(object).where(original.notna(), None),
            check_dtype=False,
            obj=config["config_name"],
        )


def test_croissant_loads_and_reads_in_mlcroissant(exported):
    import mlcroissant as mlc

    path = exported / "exports/croissant.json"
    meta = json.loads(path.read_text())
    assert meta["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert len(meta["isBasedOn"]) == 4  # a licence and a citation per source
    fields = {f["@id"]: f for rs in meta["recordSet"] for f in rs["field"]}
    assert fields["SATP_responses/clip_id"]["references"] == {
        "field": {"@id": "SATP_clips/clip_id"}
    }
    assert fields["ISD_clips/n_responses"]["dataType"] == "sc:Integer"
    ids = {rs["@id"] for rs in meta["recordSet"]}
    assert "DeLTA_exclusions" not in ids and "ISD_features" not in ids  # empty: no record set
    assert {"ISD_clips", "ISD_exclusions", "DeLTA_responses"} <= ids
    dataset = mlc.Dataset(jsonld=str(path))
    for rs in ("ISD_clips", "SATP_clip_languages", "DeLTA_responses"):
        first = next(iter(dataset.records(record_set=rs)))
        assert first[f"{rs}/clip_id"]


def test_data_cards_carry_measured_numbers(exported):
    card = (exported / "exports/cards/SATP.md").read_text()
    for section in (
        "## Motivation",
        "## Composition",
        "## Collection",
        "## Preprocessing done here",
        "## Uses",
        "## Distribution and licence",
        "## Maintenance",
    ):
        assert section in card
    assert (
        "clips (table `clips`): 27; responses (table `responses`): 19,060; participants "
        "(distinct `participant_id` in `responses`): 707; raw rows (the raw input files): 19,088"
    ) in card
    assert "ratings only: no acoustic or visual features" in card
    assert "`rating_out_of_range` (" in card and "): 3" in card
    assert "`duplicated_participant_id` 54" in card
    delta = (exported / "exports/cards/DeLTA.md").read_text()
    assert "clips (table `clips`): 2,890; responses (table `responses`): 11,650" in delta
    assert "literature counts: clips 2,980, responses 12,210" in delta


def test_croissant_always_has_a_date_published_never_the_clock(repo, project, monkeypatch):
    import datetime as dt

    from mosaiq.errors import MosaiqError
    from mosaiq.settings import load_params
    from tests.conftest import set_params

    committed = json.loads((repo / "exports/croissant.json").read_text())
    params = load_params(repo)
    assert committed["datePublished"] == export.date_published(repo, params)
    assert dt.date.fromisoformat(committed["datePublished"])
    # before a release: params.yaml release.date; CITATION.cff's date-released wins once set
    assert export.date_published(project, load_params(project)) == str(params["release"]["date"])
    (project / "CITATION.cff").write_text("cff-version: 1.2.0\ndate-released: 2031-02-03\n")
    assert export.date_published(project, load_params(project)) == "2031-02-03"
    (project / "CITATION.cff").unlink()

    def no_date(p):
        p["release"]["date"] = None

    set_params(project, no_date)
    with pytest.raises(MosaiqError, match=r"set release\.date in params\.yaml"):
        export.date_published(project, load_params(project))
    set_params(project, lambda p: p["release"].update(date="24/11/2026"))
    with pytest.raises(MosaiqError, match=r"release\.date: '24/11/2026' is not a date"):
        export.date_published(project, load_params(project))
