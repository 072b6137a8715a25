"""What a new user meets first: data that is not built, wrong names, partial runs."""

from __future__ import annotations

import json

import pytest

import mosaiq
from mosaiq.api import NotBuilt
from mosaiq.build import build_dataset
from tests.conftest import BIN, copy_project, run

MOSAIQ = str(BIN / "mosaiq")


@pytest.fixture
def unbuilt(tmp_path):
    """A project with ISD built and ARAUS, SATP, DeLTA recorded as not built."""
    project = copy_project(
        tmp_path / "project", "benchmark/tasks.yaml", "benchmark/tasks.schema.json"
    )
    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        build_dataset(project, ds)
    return project


def test_loading_data_that_is_not_built_says_how_to_get_it(unbuilt):
    with pytest.raises(NotBuilt, match=r"ARAUS is not built here .*mosaiq fetch ARAUS"):
        mosaiq.load("ARAUS", "clips", root=unbuilt)
    with pytest.raises(NotBuilt, match=r"SATP is not built here .*datasets/SATP/raw/"):
        mosaiq.load_task("satp_iso", root=unbuilt)
    with pytest.raises(NotBuilt, match="DeLTA is not built here"):
        mosaiq.load_task("delta_annoyance", root=unbuilt)
    empty = mosaiq.load("ARAUS", "clips", root=unbuilt, built_only=False)
    assert empty.empty and "clip_id" in empty.columns
    assert len(mosaiq.load("ISD", "clips", root=unbuilt)) > 0


def test_info_says_how_to_get_each_missing_dataset(unbuilt):
    out = run([MOSAIQ, "info"], cwd=unbuilt).stdout
    for ds in ("ARAUS", "SATP", "DeLTA"):
        assert "to get it: build it from your own download" in out
        assert f"private DVC remote, `mosaiq pull -d {ds} -r NAME`" in out
        assert f"`mosaiq fetch {ds}`" in out


def test_build_without_raw_names_the_file_and_what_the_folder_holds(project):
    raw = project / "datasets/DeLTA/raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "survey_export.csv").write_text("a,b\n1,2\n")
    proc = run([MOSAIQ, "build", "DeLTA"], cwd=project)
    lines = [line for line in proc.stdout.splitlines() if "not built" in line]
    assert len(lines) == 1, proc.stdout  # said once
    assert "not found at" in lines[0] and "survey_export.csv" in lines[0]
    assert "params.yaml" in lines[0]
    assert "not built" not in proc.stderr


def test_validate_refuses_unknown_names_and_keeps_the_full_report(unbuilt):
    run([MOSAIQ, "validate"], cwd=unbuilt, check=False)
    report = unbuilt / "reports/validation.json"
    full = report.read_bytes()
    assert set(json.loads(full)["packages"]) >= {"ISD", "ARAUS", "SATP", "DeLTA"}
    proc = run([MOSAIQ, "validate", "-d", "FOO"], cwd=unbuilt, check=False)
    assert proc.returncode != 0
    assert "unknown dataset FOO" in proc.stderr + proc.stdout
    partial = run([MOSAIQ, "validate", "-d", "ISD"], cwd=unbuilt, check=False)
    assert "partial run" in partial.stdout
    assert report.read_bytes() == full
    other = unbuilt / "isd-only.json"
    run([MOSAIQ, "validate", "-d", "ISD", "--report", str(other)], cwd=unbuilt, check=False)
    assert "ISD" in json.loads(other.read_text())["packages"]
    assert "ARAUS" not in json.loads(other.read_text())["packages"]


@pytest.mark.parametrize("command", ["clip", "acoustics", "clap"])
def test_no_progress_has_help_text(repo, command):
    out = run([MOSAIQ, "features", command, "--help"], cwd=repo).stdout
    assert "--no-progress" in out
    assert "No progress bar" in " ".join(out.split())


def test_a_release_sets_the_version_in_uv_lock_too(repo, tmp_path):
    import shutil
    import tomllib

    from mosaiq.release import _set_versions

    for name in ("params.yaml", "pyproject.toml", "uv.lock", "CITATION.cff"):
        shutil.copy(repo / name, tmp_path / name)
    _set_versions(tmp_path, "9.8.7")
    lock = tomllib.loads((tmp_path / "uv.lock").read_text())
    (own,) = [p for p in lock["package"] if p["name"] == "mosaiq"]
    assert own["version"] == "9.8.7"
    others = [p for p in lock["package"] if p["name"] != "mosaiq"]
    before = list(tomllib.loads((repo / "uv.lock").read_text())["package"])
    assert others == [p for p in before if p["name"] != "mosaiq"]
    assert tomllib.loads((tmp_path / "pyproject.toml").read_text())["project"]["version"] == "9.8.7"


def test_load_filters_rows_by_column_values(built_isd):
    clips = mosaiq.load("ISD", "clips", root=built_isd)
    two = sorted(clips["LocationID"].dropna().unique())[:2]
    some = mosaiq.load("ISD", "clips", root=built_isd, LocationID=two)
    assert set(some["LocationID"]) == set(two)
    assert len(some) == clips["LocationID"].isin(two).sum() > 0
    one = mosaiq.load("ISD", "responses", root=built_isd, language="eng")
    assert (one["language"] == "eng").all() and len(one) > 0
    with pytest.raises(mosaiq.MosaiqError, match="no column 'city' to filter on"):
        mosaiq.load("ISD", "clips", root=built_isd, city="London")


def test_plot_delegates_to_soundscapy(built_isd, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundscapy.plotting

    clips = mosaiq.load("ISD", "clips", root=built_isd)
    locations = sorted(clips["LocationID"].dropna().unique())[:3]
    few = mosaiq.load("ISD", "clips", root=built_isd, LocationID=locations)
    ax = mosaiq.plot(few, "density", hue="LocationID", title="three locations")
    assert ax.get_title() == "three locations"
    assert len(ax.collections) > len(locations)  # contour sets and scatter points per location
    assert ax.get_xlim() == (-1.0, 1.0)  # soundscapy's circumplex grid
    ax.figure.savefig(tmp_path / "density.png")
    plt.close(ax.figure)
    ax = mosaiq.plot(few, hue="LocationID")
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == few[["mean_ISOPleasant", "mean_ISOEventful"]].dropna().shape[0]
    plt.close(ax.figure)
    assert mosaiq.plot.__module__ == "mosaiq.plotting"
    assert soundscapy.plotting.scatter is not None
    with pytest.raises(mosaiq.MosaiqError, match="no ISO coordinates"):
        mosaiq.plot(few[["clip_id"]])


def test_each_task_has_a_small_flat_metrics_file(repo):
    import yaml as _yaml

    from mosaiq.benchmark.baselines import headline, task_headline

    result = json.loads((repo / "benchmark/results/isd_iso.json").read_text())
    flat = headline(result)
    scored = {b for b, entry in result["baselines"].items() if entry.get("metrics")}
    assert scored and set(flat) == scored  # baselines that need media have no row
    for baseline, row in flat.items():
        details = result["baselines"][baseline]["metrics"]
        assert row["ISOPleasant_rmse"] == details["mean_ISOPleasant"]["rmse"]
        assert row["iso_plane_quadrant_accuracy"] == details["iso_plane"]["quadrant_accuracy"]
        assert len(row) == len(details)  # one headline number per target
    by_target = repo / "benchmark/metrics_by_target/isd_iso.json"
    assert json.loads(by_target.read_text()) == flat
    # the task's row: the headline metric averaged over its targets, one number per baseline
    row = task_headline(result)
    assert json.loads((repo / "benchmark/metrics/isd_iso.json").read_text()) == row
    assert row["metric"] == "rmse" and set(row) == {"metric", *scored}
    for baseline in scored:
        assert row[baseline] == result["baselines"][baseline]["summary"]["rmse"]
    stage = _yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["baselines"]
    assert [next(iter(m)) for m in stage["metrics"]] == ["benchmark/metrics"]
    assert "benchmark/metrics_by_target" in [next(iter(o)) for o in stage["outs"]]


def test_dvc_metrics_show_is_a_narrow_table(repo):
    """`dvc metrics show` with no target: one row per task, a few columns (it was ~800 wide)."""
    out = run([str(BIN / "dvc"), "metrics", "show"], cwd=repo).stdout
    lines = out.splitlines()
    tasks = sorted(p.stem for p in (repo / "benchmark/metrics").glob("*.json"))
    assert [line.split()[0] for line in lines[1:]] == [f"benchmark/metrics/{t}.json" for t in tasks]
    header = lines[0].split()
    assert header[0] == "Path" and "metric" in header and len(header) <= 10
    assert max(len(line) for line in lines) <= 220
