"""CLIP features end to end on synthetic videos, with a tiny open_clip model of seeded random
weights (the real loading code: local-dir config, local checkpoint file; nothing downloaded)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import mosaiq
from mosaiq.errors import MosaiqError
from mosaiq.features import clip as clip_features
from mosaiq.features.store import FOLDER_INDEX, collect, load_vector, read_records
from mosaiq.validate import validate_all
from tests.conftest import BIN, run, set_params
from tests.features.conftest import set_videos
from tests.videos import vfr_pts, write_h264, write_mp4v

os.environ["HF_HUB_OFFLINE"] = "1"
N_CLIPS = 8


def write_video(path: Path, i: int) -> None:
    """Three kinds of video: mp4v at 20 fps, H.264 of variable frame rate, H.264 at 25 fps."""
    if i % 3 == 2:
        write_mp4v(path, 60 + i, fps=20)
    elif i % 3 == 1:
        write_h264(path, 80, pts_ms=vfr_pts(80, seed=i), gop=20)
    else:
        write_h264(path, 75 + i, fps=25, gop=25)


@pytest.fixture
def fproject(clip_project, tmp_path) -> Path:
    return clip_project(tmp_path, write_video, n=N_CLIPS, end_s=2.0, seed=3, batch_size=4)


def vectors(root: Path) -> dict[str, np.ndarray]:
    records = read_records(root, "ISD", "clip_embedding")
    base = root / "datasets/ISD"
    return {r["clip_id"]: load_vector(base, r) for r in records.to_dict("records")}


def test_embeddings_are_normalised_recorded_and_valid(fproject):
    summary = clip_features.run(fproject, "ISD", progress=False)
    assert summary.done == N_CLIPS and not summary.failed
    records = read_records(fproject, "ISD", "clip_embedding")
    assert len(records) == N_CLIPS and records["feature_id"].is_unique
    assert set(records["value_format"]) == {"array_shard"}
    # a checkpoint is saved after the first batch that reaches checkpoint_every: 4 + 4
    assert records["feature_path"].nunique() == 2
    for v in vectors(fproject).values():
        assert v.shape == (32,) and v.dtype == np.float32
        assert np.linalg.norm(v) == pytest.approx(1, abs=1e-6)
    prov = json.loads(records["provenance_json"].iloc[0])
    for key in clip_features.PROVENANCE_KEYS:
        assert key in prov
    assert prov["weights"] == "random (seed 3)" and prov["precision"] == "fp32"
    assert prov["frame_sampling"]["rule"] == "centre"
    # the centre of [0.5, 2.0] s is 1.25 s; at 20 fps (mp4v, clip 5) that is frame 25
    fifth = records[records["clip_id"] == records["clip_id"].iloc[0]]
    assert fifth["n_frames"].iloc[0] == 1
    collect(fproject, "ISD")
    report = validate_all(fproject, ["ISD"])
    assert report.valid, [str(e) for p in report.packages for e in p.errors][:5]


def test_same_seed_and_any_batch_size_give_the_same_embeddings(fproject, tmp_path):
    clip_features.run(fproject, "ISD", progress=False)
    first = vectors(fproject)
    set_params(fproject, lambda p: p["clip"].update(batch_size=1, checkpoint_every=100))
    clip_features.run(fproject, "ISD", mode="overwrite", progress=False)
    again = vectors(fproject)
    assert first.keys() == again.keys()
    for cid in first:
        np.testing.assert_allclose(again[cid], first[cid], atol=1e-6)


def test_uniform_sampling_pools_k_frames(fproject):
    set_params(fproject, lambda p: p["clip"].update(sampling="uniform", frames=4))
    clip_features.run(fproject, "ISD", progress=False)
    records = read_records(fproject, "ISD", "clip_embedding")
    assert set(records["n_frames"]) == {4} and set(records["pooling"]) == {"mean"}
    prov = json.loads(records["provenance_json"].iloc[1])
    assert len(prov["frame_times_s"]) == 4 and len(prov["frame_indices"]) == 4


def test_local_checkpoint_file_is_loaded_and_hashed(fproject, tmp_path):
    import open_clip
    import torch

    folder = Path(
        yaml.safe_load((fproject / "params.yaml").read_text())["clip"]["model"].split(":", 1)[1]
    )
    torch.manual_seed(11)
    net = open_clip.create_model(f"local-dir:{folder}", pretrained_text=False)
    torch.save(net.state_dict(), folder / "open_clip_pytorch_model.bin")
    clip_features.run(fproject, "ISD", progress=False)
    from_checkpoint = vectors(fproject)
    records = read_records(fproject, "ISD", "clip_embedding")
    prov = json.loads(records["provenance_json"].iloc[0])
    assert prov["weights"] == "checkpoint"
    checkpoint = (folder / "open_clip_pytorch_model.bin").read_bytes()
    assert prov["checkpoint_sha256"] == hashlib.sha256(checkpoint).hexdigest()
    # the same weights drawn from seed 11 without the file give the same embeddings
    (folder / "open_clip_pytorch_model.bin").unlink()
    set_params(fproject, lambda p: p["clip"].update(seed=11))
    clip_features.run(fproject, "ISD", mode="overwrite", progress=False)
    for cid, v in vectors(fproject).items():
        np.testing.assert_allclose(v, from_checkpoint[cid], atol=1e-6)


def test_append_keeps_every_record_and_adds_the_missing_ones(fproject):
    clip_features.run(fproject, "ISD", limit=3, progress=False)
    first = read_records(fproject, "ISD", "clip_embedding")
    assert len(first) == 3
    summary = clip_features.run(fproject, "ISD", progress=False)
    assert (summary.done, summary.already) == (N_CLIPS - 3, 3)
    both = read_records(fproject, "ISD", "clip_embedding")
    assert len(both) == N_CLIPS
    kept = both.set_index("feature_id").loc[first["feature_id"]]
    pd.testing.assert_frame_equal(kept.reset_index(), first, check_dtype=False)
    # a new definition (precision) appends a second set and keeps the first
    set_params(fproject, lambda p: p["clip"].update(precision="bf16"))
    clip_features.run(fproject, "ISD", progress=False)
    records = read_records(fproject, "ISD", "clip_embedding")
    assert len(records) == 2 * N_CLIPS and records["definition_id"].nunique() == 2
    # overwrite rebuilds this definition only, and removes the arrays nobody refers to
    clip_features.run(fproject, "ISD", mode="overwrite", progress=False)
    records = read_records(fproject, "ISD", "clip_embedding")
    assert len(records) == N_CLIPS
    on_disk = {
        f"features/clip_embedding/{p.name}"
        for p in (fproject / "datasets/ISD/features/clip_embedding").iterdir()
        if p.name != FOLDER_INDEX  # the folder's index holds no value
    }
    assert on_disk == set(records["feature_path"])


@pytest.mark.parametrize("storage", ["npy", "base64"])
def test_other_storage_layouts_hold_the_same_values(fproject, storage):
    clip_features.run(fproject, "ISD", progress=False)
    shards = vectors(fproject)
    set_params(fproject, lambda p: p["clip"].update(storage=storage))
    clip_features.run(fproject, "ISD", mode="overwrite", progress=False)
    records = read_records(fproject, "ISD", "clip_embedding")
    assert set(records["value_format"]) == {"array" if storage == "npy" else "base64"}
    for cid, v in vectors(fproject).items():
        np.testing.assert_array_equal(v, shards[cid])
    collect(fproject, "ISD")
    assert validate_all(fproject, ["ISD"]).valid


def test_missing_corrupt_and_escaping_videos(fproject, tmp_path):
    videos = Path(yaml.safe_load((fproject / "params.yaml").read_text())["video"]["ISD"]["root"])
    (videos / "v3.mp4").unlink()
    (videos / "v5.mp4").write_bytes(b"\x00" * 2048)
    with pytest.raises(clip_features.FeatureRunError, match=r"v3\.mp4' not found") as exc:
        clip_features.run(fproject, "ISD", progress=False)
    assert exc.value.summary.done == 3  # the clips before it are kept
    assert len(read_records(fproject, "ISD", "clip_embedding")) == 3
    summary = clip_features.run(fproject, "ISD", skip_missing_video=True, progress=False)
    assert summary.done == N_CLIPS - 3 - 2
    reasons = dict(summary.skipped)
    assert len(reasons) == 2
    assert any("missing" in r for r in reasons.values())
    assert any("unreadable" in r and "v5.mp4" in r for r in reasons.values())
    # an asset that leaves the video root is refused even when skipping
    clips = mosaiq.load("ISD", "clips", root=fproject)
    escaping = clips["clip_id"].iloc[N_CLIPS]
    set_videos(fproject, {escaping: ("../elsewhere.mp4", None, None)})
    with pytest.raises(MosaiqError, match=r"contains '\.\.'"):
        clip_features.run(fproject, "ISD", skip_missing_video=True, progress=False)


def test_the_cli_prints_a_summary_and_fails_cleanly(fproject):
    proc = run(
        [str(BIN / "mosaiq"), "features", "clip", "ISD", "--no-progress"],
        cwd=fproject,
        env={"HF_HUB_OFFLINE": "1"},
    )
    assert f"ISD clip_embedding: {N_CLIPS} done, 0 already recorded" in proc.stdout
    assert "clips/s" in proc.stdout
    videos = Path(yaml.safe_load((fproject / "params.yaml").read_text())["video"]["ISD"]["root"])
    (videos / "v0.mp4").unlink()
    proc = run(
        [str(BIN / "mosaiq"), "features", "clip", "ISD", "--mode", "overwrite", "--no-progress"],
        cwd=fproject,
        env={"HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert proc.returncode == 1
    assert "'v0.mp4' not found" in proc.stderr and "failed" in proc.stderr


def test_a_killed_run_resumes_without_duplicates(fproject, tmp_path):
    """kill -9 in the middle of a run, then run again: every clip once, no orphan arrays."""
    videos = Path(yaml.safe_load((fproject / "params.yaml").read_text())["video"]["ISD"]["root"])
    clips = mosaiq.load("ISD", "clips", root=fproject)["clip_id"].head(60).tolist()
    for i in range(N_CLIPS, len(clips)):
        write_h264(videos / f"w{i}.mp4", 50, fps=25, gop=10)
    set_videos(
        fproject, {c: (f"w{i}.mp4", None, None) for i, c in enumerate(clips) if i >= N_CLIPS}
    )
    set_params(fproject, lambda p: p["clip"].update(batch_size=1, checkpoint_every=2))
    records_file = fproject / "datasets/ISD/features/clip_embedding.csv"
    proc = subprocess.Popen(
        [str(BIN / "mosaiq"), "features", "clip", "ISD", "--no-progress"],
        cwd=fproject,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{BIN}:{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records_file.is_file() and len(read_records(fproject, "ISD", "clip_embedding")) >= 6:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = read_records(fproject, "ISD", "clip_embedding")
    assert 6 <= len(partial) < len(clips), "the run was not interrupted mid-way"
    summary = clip_features.run(fproject, "ISD", progress=False)
    records = read_records(fproject, "ISD", "clip_embedding")
    assert len(records) == len(clips) and records["clip_id"].is_unique
    assert summary.already == len(partial)
    on_disk = {
        f"features/clip_embedding/{p.name}"
        for p in (fproject / "datasets/ISD/features/clip_embedding").iterdir()
        if p.name != FOLDER_INDEX  # the folder's index holds no value
    }
    assert on_disk == set(records["feature_path"])
    assert not list((fproject / "datasets/ISD/features").rglob(".*tmp-*"))
    collect(fproject, "ISD")
    assert validate_all(fproject, ["ISD"]).valid


def test_stored_embeddings_are_those_of_open_clips_own_transform(fproject):
    """The same frames through open_clip's reference path (its evaluation transform on a PIL
    image, the whole model's encode_image, drawn from the same seed) give the stored vectors."""
    import open_clip
    import torch
    from PIL import Image

    from mosaiq.features.frames import decode_frames

    clip_features.run(fproject, "ISD", progress=False)
    params = yaml.safe_load((fproject / "params.yaml").read_text())
    torch.manual_seed(params["clip"]["seed"])
    model = open_clip.create_model(params["clip"]["model"], pretrained_text=False).eval()
    from open_clip.transform import PreprocessCfg, image_transform_v2

    transform = image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
    videos = Path(params["video"]["ISD"]["root"])
    clips = mosaiq.load("ISD", "clips", root=fproject).set_index("clip_id")
    records = read_records(fproject, "ISD", "clip_embedding")
    stored = vectors(fproject)
    for rec in records.to_dict("records"):
        path = videos / clips.loc[rec["clip_id"], "video_asset"]
        frame = decode_frames(path, [rec["frame_time_s"]])[0]
        assert frame.index == rec["frame_index"]
        with torch.inference_mode():
            z = model.encode_image(transform(Image.fromarray(frame.image))[None])[0]
        z = (z / z.norm()).numpy()
        np.testing.assert_allclose(stored[rec["clip_id"]], z, atol=2e-6, rtol=0)


def test_model_inputs_are_open_clips_to_the_bit_for_any_frame_shape(tmp_path):
    import torch
    from PIL import Image

    from mosaiq.features.encoder import load_encoder
    from tests.conftest import TINY_CLIP

    folder = tmp_path / "m"
    folder.mkdir()
    config = json.loads(json.dumps(TINY_CLIP))
    config["preprocess_cfg"]["size"] = [64, 64]  # as open_clip's own models give it
    (folder / "open_clip_config.json").write_text(json.dumps(config))
    enc = load_encoder(f"local-dir:{folder}", None, device="cpu")
    assert enc.fast_path()  # the transform is reproduced, not called
    reference = enc.reference_transform()
    rng = np.random.default_rng(0)
    shapes = [(1080, 1920), (720, 1280), (1920, 1080), (97, 131), (64, 64), (50, 300)]
    shapes += [(300, 200), (40, 60), (481, 853)]  # smaller than the model's size: upsampled
    frames = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in shapes]
    frames.append(np.kron(frames[0][::8, ::8], np.ones((8, 8, 1), np.uint8)))  # smooth blocks
    ours = enc.preprocess(frames)
    theirs = torch.stack([reference(Image.fromarray(f)) for f in frames])
    assert ours.shape == theirs.shape == (len(frames), 3, 64, 64)
    assert torch.equal(ours, theirs)


def test_the_frame_reader_and_the_encoder_alone(fproject, tmp_path):
    from mosaiq.features.encoder import load_encoder
    from mosaiq.features.runner import Job

    params = yaml.safe_load((fproject / "params.yaml").read_text())
    settings = clip_features.ClipSettings(
        model=params["clip"]["model"], pretrained=None, sampling="uniform", frames=4
    )
    model = load_encoder(settings.model, None, device="cpu", seed=1)
    videos = Path(params["video"]["ISD"]["root"])
    reader = clip_features.FrameReader(videos, settings, model)
    # v2.mp4: mp4v at 20 fps; the centres of four parts of [1, 3] s are frames 25, 35, 45, 55
    decoded = reader(Job("c", "v2.mp4", 1.0, 3.0))
    assert decoded.n == 4 and tuple(decoded.inputs.shape) == (4, 3, 64, 64)
    assert decoded.provenance["frame_indices"] == [25, 35, 45, 55]
    assert decoded.fields["frame_index"] == 25 and decoded.fields["pooling"] == "mean"
    centre = clip_features.ClipSettings(model=settings.model, pretrained=None)
    single = clip_features.FrameReader(videos, centre, model)(Job("d", "v0.mp4", None, None))
    assert single.n == 1 and single.fields["pooling"] == "none"
    (pooled, one) = clip_features.ClipEncoder(model).encode([decoded, single])
    frames = model.encode(decoded.inputs)
    mean = frames.mean(axis=0)
    np.testing.assert_allclose(pooled, mean / np.linalg.norm(mean), atol=1e-6)
    np.testing.assert_allclose(one, model.encode(single.inputs)[0], atol=1e-6)
    with pytest.raises(clip_features.AssetError) as exc:
        reader(Job("e", "v0.mp4", 3.0, 1.0))  # a segment that ends before it starts
    assert exc.value.kind == "unreadable"
