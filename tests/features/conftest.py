"""Shared by the feature tests: copies of the built ISD project whose clips link to synthetic
videos, with a tiny open_clip model of seeded random weights (nothing downloaded)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

import mosaiq
from mosaiq.package import table_to_csv
from tests.conftest import set_params, tiny_clip_dir


def set_videos(root: Path, assets: dict[str, tuple[str, float | None, float | None]]) -> None:
    """Give clips a video asset and segment (the tables published here link no videos)."""
    path = root / "datasets/ISD/data/clips.csv"
    schema = yaml.safe_load((root / "datasets/ISD/schemas/clips.schema.yaml").read_text())
    clips = mosaiq.load("ISD", "clips", root=root)
    for cid, (asset, start, end) in assets.items():
        row = clips["clip_id"] == cid
        clips.loc[row, "video_asset"] = asset
        clips.loc[row, "start_s"] = start
        clips.loc[row, "end_s"] = end
    path.write_bytes(table_to_csv(clips, schema))


@pytest.fixture(scope="session")
def clip_project(built_isd: Path) -> Callable[..., Path]:
    """Makes a CLIP project under ``tmp_path``: a copy of the built ISD project whose first
    ``n`` clips link to ``v<i>.mp4``, written by ``write_video(path, i)`` (odd clips with the
    window [0.5, ``end_s``] s), and a tiny open_clip model (``seed``, ``batch_size``; float32
    shards, a checkpoint every 3 clips; ``compute.shard_size`` when given)."""

    def make(
        tmp_path: Path,
        write_video: Callable[[Path, int], None],
        *,
        n: int,
        end_s: float,
        seed: int,
        batch_size: int,
        shard_size: int | None = None,
    ) -> Path:
        root = tmp_path / "project"
        shutil.copytree(built_isd, root)
        videos = tmp_path / "videos"
        videos.mkdir()
        clip_ids = mosaiq.load("ISD", "clips", root=root)["clip_id"].head(n).tolist()
        assets = {}
        for i, cid in enumerate(clip_ids):
            name = f"v{i}.mp4"
            write_video(videos / name, i)
            assets[cid] = (name, 0.5 if i % 2 else None, end_s if i % 2 else None)
        set_videos(root, assets)
        model = tiny_clip_dir(tmp_path / "tiny-clip")

        def edit(p):
            p["video"]["ISD"]["root"] = str(videos)
            p["clip"].update(
                model=f"local-dir:{model}",
                pretrained=None,
                seed=seed,
                dtype="float32",
                storage="shards",
                batch_size=batch_size,
                checkpoint_every=3,
            )
            if shard_size is not None:
                p["compute"].update(shard_size=shard_size)

        set_params(root, edit)
        return root

    return make
