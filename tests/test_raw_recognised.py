"""Raw files saved under another name: a table of the raw folder is recognised by its columns
when the file named in params.yaml is absent; when several are, the error gives the params line."""

from __future__ import annotations

import re
import shutil

import openpyxl
import pandas as pd
import pytest
import yaml

from mosaiq.build import build_dataset
from mosaiq.errors import InputError, RawInputAbsent
from mosaiq.settings import load_params
from mosaiq.sources import source
from mosaiq.sources.base import locate_raw
from tests.conftest import BIN, SHARED_FILES, run

MOSAIQ = str(BIN / "mosaiq")


def _raw(project, dataset):
    raw = project / "datasets" / dataset / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    return raw


def test_a_csv_export_under_another_name_is_recognised_and_built(project, shared_data):
    raw = _raw(project, "SATP")
    shutil.copy(shared_data / SHARED_FILES["SATP"]["responses"], raw / "Main Merge export.csv")
    (raw / "notes.csv").write_text("a,b\n1,2\n")  # another table: not taken for the sheet
    proc = run([MOSAIQ, "build", "SATP"], cwd=project)
    assert "SATP: built: 27 clips, 19,060 responses" in proc.stdout, proc.stdout
    assert "read Main Merge export.csv for build.SATP.responses" in proc.stdout
    assert "recognised by its columns" in proc.stdout
    descriptor = yaml.safe_load((project / "datasets/SATP/datapackage.yaml").read_text())
    assert descriptor["mosaiq"]["build_status"] == "built"
    assert [i["file"] for i in descriptor["mosaiq"]["raw_inputs"]] == ["Main Merge export.csv"]


def test_each_file_of_a_two_file_source_is_recognised_by_its_own_columns(project, shared_data):
    raw = _raw(project, "DeLTA")
    for key, rel in SHARED_FILES["DeLTA"].items():
        shutil.copy(shared_data / rel, raw / f"my_{key}.csv")
    proc = run([MOSAIQ, "build", "DeLTA"], cwd=project)
    assert "DeLTA: built: 2,890 clips, 11,650 responses" in proc.stdout, proc.stdout
    descriptor = yaml.safe_load((project / "datasets/DeLTA/datapackage.yaml").read_text())
    files = {i["role"]: i["file"] for i in descriptor["mosaiq"]["raw_inputs"]}
    assert files == {"responses": "my_survey.csv", "clips": "my_collapsed.csv"}


def test_several_candidates_name_the_params_line_that_picks_one(project, shared_data):
    raw = _raw(project, "SATP")
    for name in ("export a.csv", "export b.csv"):
        shutil.copy(shared_data / SHARED_FILES["SATP"]["responses"], raw / name)
    proc = run([MOSAIQ, "build", "SATP"], cwd=project, check=False)
    assert proc.returncode != 0
    message = proc.stderr + proc.stdout
    assert "export a.csv, export b.csv" in message
    assert not (project / "datasets/SATP/datapackage.yaml").exists()  # nothing half written
    line = re.search(r"the line `([^`]+)`", message)
    assert line is not None, message
    # The line, put under build: SATP: in params.yaml as the message says, makes the build work.
    params_path = project / "params.yaml"
    text = params_path.read_text()
    key, value = yaml.safe_load(line.group(1)).popitem()
    params = yaml.safe_load(text)
    params["build"]["SATP"][key] = value
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    proc = run([MOSAIQ, "build", "SATP"], cwd=project)
    assert "SATP: built" in proc.stdout and "recognised" not in proc.stdout


def test_a_workbook_under_another_name_is_recognised_by_a_sheet_header(project, shared_data):
    raw = _raw(project, "SATP")
    sample = pd.read_csv(shared_data / SHARED_FILES["SATP"]["responses"], dtype=str, nrows=20)
    book = openpyxl.Workbook()
    book.active.title = "Readme"
    book.active.append(["not the data"])
    sheet = book.create_sheet("Main Merge")
    sheet.append(list(sample.columns))
    for row in sample.itertuples(index=False):
        sheet.append(list(row))
    book.save(raw / "SATP v1.4.xlsx")
    params = load_params(project)
    (spec,) = source("SATP").raw_files
    assert locate_raw(project, params, "SATP", spec, "the sheet") == raw / "SATP v1.4.xlsx"


def test_no_table_with_the_columns_lists_the_columns_looked_for(project):
    raw = _raw(project, "ARAUS")
    (raw / "responses_export.csv").write_text("participant,pleasant\nA,3\n")
    params = load_params(project)
    spec = source("ARAUS").raw_files[0]
    with pytest.raises(RawInputAbsent) as info:
        locate_raw(project, params, "ARAUS", spec, "responses.csv")
    message = str(info.value)
    assert "responses_export.csv" in message and "build.ARAUS.responses" in message
    assert "none of its tables has the columns of responses.csv" in message
    assert "audio_file_id" in message and "soundscape" in message  # both layouts named


def test_a_named_file_is_never_replaced_by_a_recognised_one(project, shared_data):
    raw = _raw(project, "SATP")
    shutil.copy(shared_data / SHARED_FILES["SATP"]["responses"], raw / "other.csv")
    (raw / "SATP Dataset v1.5.xlsx").write_text("not a workbook")
    params = load_params(project)
    (spec,) = source("SATP").raw_files
    assert locate_raw(project, params, "SATP", spec, "the sheet") == raw / "SATP Dataset v1.5.xlsx"
    with pytest.raises(InputError, match="cannot be read as an xlsx workbook"):
        build_dataset(project, "SATP")
