"""No task trains on what it tests: no split group, no unit and no recording (within a dataset
or, through the overlap table, across datasets) on both sides of any task."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

import mosaiq
from mosaiq.benchmark.splits import write_splits
from mosaiq.benchmark.tasks import get_task, leakage, load_tasks, task_partition, task_units
from tests.conftest import REPO, copy_project

TASKS = list(load_tasks(REPO)["tasks"])


@pytest.fixture(scope="module")
def splits(built_all, tmp_path_factory):
    root = tmp_path_factory.mktemp("leak") / "project"
    shutil.copytree(built_all, root)
    copy_project(root, "benchmark/tasks.yaml", "benchmark/tasks.schema.json")
    write_splits(root)
    return root


def _recording(ds: str, clips: pd.DataFrame) -> pd.Series:
    """The recording of each clip, spelled out here independently of the task file."""
    if ds == "ISD":
        return clips["GroupID"].str.strip().str.lower()
    if ds == "SATP":
        return clips["recording"].str.lower()
    if ds == "DeLTA":
        return clips["recording"].str.replace(r"_\d+\.mp3$", "", regex=True).str.lower()
    return clips["clip_id"].str.lower()  # ARAUS: no recording shared with another dataset


def _clips(root, ds):
    return mosaiq.load(ds, "clips", root=root).set_index("clip_id", drop=False)


@pytest.mark.parametrize("name", TASKS)
def test_no_group_or_recording_on_both_sides(splits, name):
    task = get_task(splits, name)
    train_ds, train, train_rows = task_partition(splits, task, "train")
    test_ds, test, test_rows = task_partition(splits, task, "test")
    assert len(train) and len(test)
    split_name = task.spec.get("test_split") or task.spec["split"]
    group = task.config["splits"].get(split_name, {}).get("group")
    if train_ds == test_ds:
        assert not set(train.index) & set(test.index)
        assert not set(train_rows["group"]) & set(test_rows["group"])
        if group:  # the declared group column itself, not only the split file's copy
            assert not set(train[group].astype(str)) & set(test[group].astype(str))
    rec_train = _recording(train_ds, _clips(splits, train_ds).loc[train["clip_id"]])
    rec_test = _recording(test_ds, _clips(splits, test_ds).loc[test["clip_id"]])
    assert not set(rec_train) & set(rec_test), name
    overlap = pd.read_csv(splits / "benchmark/splits/overlap.csv", dtype=str)
    pairs = set(zip(overlap["clip_a"], overlap["clip_b"], strict=True))
    pairs |= {(b, a) for a, b in pairs}
    assert not {(a, b) for a in train["clip_id"] for b in test["clip_id"]} & pairs
    found = leakage(splits, task)
    assert found["shared_groups"] == found["shared_units"] == found["shared_recordings"] == 0


def test_the_overlap_table_names_the_shared_recordings(splits):
    overlap = pd.read_csv(splits / "benchmark/splits/overlap.csv", dtype=str)
    assert list(overlap.columns) == [
        "dataset_a",
        "clip_a",
        "dataset_b",
        "clip_b",
        "recording",
        "how",
    ]
    isd_satp = overlap[(overlap["dataset_a"] == "ISD") & (overlap["dataset_b"] == "SATP")]
    assert list(zip(isd_satp["clip_a"], isd_satp["clip_b"], strict=True)) == [
        ("ISD_CamdenTown_CamdenTown3_CT301", "SATP_CT301")
    ]
    isd_delta = overlap[(overlap["dataset_a"] == "ISD") & (overlap["dataset_b"] == "DeLTA")]
    isd = _clips(splits, "ISD")
    with_acoustics = isd[isd["LAeq_dBA"].notna()]
    # nearly every ISD recording with acoustics is a DeLTA source recording
    assert with_acoustics["clip_id"].isin(isd_delta["clip_a"]).sum() >= 800
    delta = _clips(splits, "DeLTA")
    left = _recording("ISD", isd.loc[isd_delta["clip_a"]]).to_numpy()
    right = _recording("DeLTA", delta.loc[isd_delta["clip_b"]]).to_numpy()
    assert (left == right).all() and (isd_delta["recording"].to_numpy() == left).all()
    assert isd_delta["how"].str.contains("GroupID").all()


def test_a_transfer_task_leaves_out_the_recordings_it_tests(splits):
    task = get_task(splits, "transfer_isd_to_satp")
    candidates = task_units(splits, task, "ISD")
    assert "ISD_CamdenTown_CamdenTown3_CT301" in set(candidates["clip_id"])
    _ds, train, _rows = task_partition(splits, task, "train")
    assert "ISD_CamdenTown_CamdenTown3_CT301" not in set(train["clip_id"])
    assert len(train) == len(candidates) - 1
    assert leakage(splits, task)["train_units_left_out_for_overlap"] == 1
