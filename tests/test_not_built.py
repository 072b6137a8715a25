"""A dataset without its raw files: recorded as not built, reported as a warning, and built as
soon as the files appear; a package fetched with `dvc pull` is never overwritten by that state."""

from __future__ import annotations

import shutil

import pandas as pd
import yaml

from mosaiq.build import NOT_BUILT_ABSENT, build_dataset
from mosaiq.catalogue import build_catalogue
from mosaiq.validate import validate_all
from tests.conftest import BIN, SHARED_FILES, run, set_params


def test_absent_raw_input_is_recorded_then_built_when_the_files_appear(project, shared_data):
    result = build_dataset(project, "DeLTA")
    assert result.status == NOT_BUILT_ABSENT
    descriptor = yaml.safe_load((project / "datasets/DeLTA/datapackage.yaml").read_text())
    assert descriptor["mosaiq"]["build_status"] == NOT_BUILT_ABSENT
    clips = pd.read_csv(project / "datasets/DeLTA/data/clips.csv")
    assert clips.empty and "mean_annoyance" in clips.columns  # header only, schema columns
    build_catalogue(project)
    report = validate_all(project, ["DeLTA"])
    assert report.valid
    (delta,) = [p for p in report.packages if p.name == "DeLTA"]
    assert delta.status == "not built" and delta.warnings[0].code == "not-built"
    info = run([str(BIN / "mosaiq"), "info"], cwd=project).stdout
    assert "DeLTA  not built: raw input absent (warning)" in info
    out = run([str(BIN / "mosaiq"), "validate", "-d", "DeLTA"], cwd=project).stdout
    assert "warning: datasets/DeLTA/datapackage.yaml: [not-built]" in out

    raw = project / "datasets/DeLTA/raw"
    raw.mkdir(parents=True, exist_ok=True)
    for rel in SHARED_FILES["DeLTA"].values():
        shutil.copy(shared_data / rel, raw / rel.split("/")[-1])

    def csv_names(p):
        p["build"]["DeLTA"].update(
            survey="DeLTA-Survey-Responses_2021-07-28.csv",
            collapsed="DeLTA-collapsed-majority_2022-08-09.csv",
        )

    set_params(project, csv_names)
    assert build_dataset(project, "DeLTA").status == "built"

    # The raw files go away again (a fresh clone after `dvc pull`): the built package stays.
    before = (project / "datasets/DeLTA/data/clips.csv").read_bytes()
    for path in raw.glob("*.csv"):
        path.unlink()
    result = build_dataset(project, "DeLTA")
    assert result.status == "built" and "kept the built package" in result.note
    assert (project / "datasets/DeLTA/data/clips.csv").read_bytes() == before
