"""Paths that leave their folder: segmentation masks through links or clip IDs holding ``..``,
and descriptor paths read by :func:`mosaiq.load`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import mosaiq
from mosaiq.errors import MosaiqError
from mosaiq.features import cityseg
from mosaiq.features.frames import AssetError
from tests.conftest import set_params


@pytest.fixture
def copy(built_isd: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built_isd, root, symlinks=True)
    return root


def _masks(copy: Path, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    masks = tmp_path / "masks"
    outside = tmp_path / "outside"
    outside.mkdir()
    np.save(outside / "f000.npy", np.full((4, 4), 10, np.uint8))
    clips = mosaiq.load("ISD", "clips", root=copy)["clip_id"].head(2).tolist()
    (masks / clips[0]).mkdir(parents=True)
    np.save(masks / clips[0] / "f000.npy", np.full((4, 4), 10, np.uint8))
    set_params(copy, lambda p: p["cityseg"]["masks_root"].update(ISD=str(masks)))
    return masks, outside, clips


def test_a_mask_folder_linked_outside_is_refused(copy: Path, tmp_path: Path) -> None:
    masks, outside, clips = _masks(copy, tmp_path)
    (masks / clips[1]).symlink_to(outside, target_is_directory=True)
    with pytest.raises(MosaiqError, match="leaves the masks root"):
        cityseg.run(copy, "ISD")


def test_a_mask_file_linked_outside_is_refused(copy: Path, tmp_path: Path) -> None:
    masks, outside, clips = _masks(copy, tmp_path)
    (masks / f"{clips[1]}.npy").symlink_to(outside / "f000.npy")
    with pytest.raises(MosaiqError, match="leaves the masks root"):
        cityseg.run(copy, "ISD")


@pytest.mark.parametrize("clip_id", ["../outside", "a/../../outside", "/etc", "..", "x\\..\\y"])
def test_clip_ids_that_are_paths_are_refused(tmp_path: Path, clip_id: str) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    (tmp_path / "outside").mkdir()
    np.save(tmp_path / "outside.npy", np.zeros((2, 2), np.uint8))
    with pytest.raises(AssetError, match="is a path") as exc:
        cityseg.mask_files(masks, clip_id)
    assert exc.value.kind == "refused"


def test_masks_inside_the_root_are_read(copy: Path, tmp_path: Path) -> None:
    masks, _outside, clips = _masks(copy, tmp_path)
    assert cityseg.mask_files(masks, clips[0]) == [masks / clips[0] / "f000.npy"]
    assert cityseg.run(copy, "ISD").done == 1


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("path", "/etc/passwd"),
        ("path", "../../../etc/passwd"),
        ("schema", "../ARAUS/schemas/clips.schema.yaml"),
        ("path", "data/../../ISD/data/clips.csv"),
    ],
)
def test_load_refuses_descriptor_paths_that_leave_the_package(
    copy: Path, key: str, value: str
) -> None:
    path = copy / "datasets/ISD/datapackage.yaml"
    doc = yaml.safe_load(path.read_text())
    next(r for r in doc["resources"] if r["name"] == "clips")[key] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(MosaiqError, match="climbs out of the package"):
        mosaiq.load("ISD", "clips", root=copy)


def test_load_refuses_a_table_linked_outside(copy: Path, tmp_path: Path) -> None:
    table = copy / "datasets/ISD/data/clips.csv"
    outside = tmp_path / "clips.csv"
    shutil.copy(table, outside)
    table.unlink()
    table.symlink_to(outside)
    with pytest.raises(MosaiqError, match="link that leaves the package"):
        mosaiq.load("ISD", "clips", root=copy)
