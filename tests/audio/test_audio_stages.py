"""The audio stages end to end: media linkage, `mosaiq media`, `mosaiq features acoustics` on the
four real ISD excerpts, CLAP with seeded random weights, resume after kill -9, bad input."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile

import mosaiq
from mosaiq.features.acoustics import run_acoustics
from mosaiq.features.clap import run_clap
from mosaiq.features.runner import FeatureRunError
from mosaiq.features.store import read_records
from mosaiq.validate import validate_all
from tests.conftest import BIN, REPO, copy_project, run, set_params, tiny_clap_config
from tests.test_fetch import server  # noqa: F401  (the local HTTP server fixture)

EXCERPTS = ("CT101", "CT102", "CT103", "CT104")


@pytest.fixture(scope="module")
def isd_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mosaiq.build import build_dataset
    from mosaiq.catalogue import build_catalogue

    root = copy_project(tmp_path_factory.mktemp("audio") / "project")
    build_dataset(root, "ISD")
    build_catalogue(root)
    return root


def arrange_media(root: Path, shared_data: Path, media: Path) -> list[str]:
    """The four real excerpts copied to where the ISD layout puts their recordings; the clip
    ids they belong to."""
    clips = mosaiq.load("ISD", "clips", root=root)
    media.mkdir(parents=True, exist_ok=True)
    ids = []
    for group in EXCERPTS:
        row = clips[clips["GroupID"] == group].iloc[0]
        src = shared_data / "ISD" / "audio" / f"trimmed_{group}.wav"
        assert src.is_file(), f"{src} is missing"
        shutil.copy(src, media / str(row["audio_asset"]))
        ids.append(str(row["clip_id"]))
    return ids


def fresh(isd_project: Path, tmp_path: Path, edit=None) -> Path:
    """A copy of the built project whose ISD media root is ``tmp_path/media``."""
    root = tmp_path / "project"
    shutil.copytree(isd_project, root)

    def point(params):
        params["media"]["ISD"]["root"] = str(tmp_path / "media")
        if edit:
            edit(params)

    set_params(root, point)
    return root


def test_isd_clips_name_their_recording(isd_project: Path) -> None:
    clips = mosaiq.load("ISD", "clips", root=isd_project)
    assert (clips["audio_asset"] == clips["GroupID"] + ".wav").all()
    assert (clips["start_s"] == 0).all() and clips["end_s"].isna().all()


def test_the_pattern_is_a_setting(tmp_path: Path) -> None:
    from mosaiq.build import build_dataset

    root = copy_project(tmp_path / "p")
    set_params(
        root,
        lambda p: p["build"]["ISD"].update(audio_asset="{LocationID}/{SessionID}/{GroupID}.flac"),
    )
    build_dataset(root, "ISD")
    clips = mosaiq.load("ISD", "clips", root=root)
    first = clips.iloc[0]
    assert first["audio_asset"] == f"{first.LocationID}/{first.SessionID}/{first.GroupID}.flac"


def test_no_media_records_nothing_and_loads_no_model(isd_project: Path, tmp_path: Path) -> None:
    root = fresh(isd_project, tmp_path)
    summary = run_acoustics(root, "ISD", progress=False)
    assert summary.done == 0 and "no media" in "\n".join(summary.lines())
    modules_before = "transformers" in sys.modules
    summary = run_clap(root, "ISD", progress=False)
    assert summary.done == 0
    assert ("transformers" in sys.modules) == modules_before
    assert read_records(root, "ISD", "acoustic_indicators").empty
    assert read_records(root, "ISD", "clap_embedding").empty


def test_acoustics_stage_on_the_real_isd_excerpts(
    isd_project: Path, shared_data: Path, tmp_path: Path
) -> None:
    root = fresh(isd_project, tmp_path)
    ids = arrange_media(root, shared_data, tmp_path / "media")
    out = run([str(BIN / "mosaiq"), "media", "ISD"], cwd=root).stdout
    assert "4 usable" in out and f"{len(mosaiq.load('ISD', 'clips', root=root)) - 4} missing" in out

    # without --skip-missing-media the run stops at the first clip without audio, keeping work
    with pytest.raises(FeatureRunError, match="missing"):
        run_acoustics(root, "ISD", progress=False)
    proc = run(
        [
            str(BIN / "mosaiq"),
            "features",
            "acoustics",
            "ISD",
            "--no-progress",
            "--skip-missing-media",
        ],
        cwd=root,
    )
    assert "4 already recorded" in proc.stdout or "0 done" in proc.stdout
    table = mosaiq.load_features("ISD", "acoustics", root=root)
    clips = mosaiq.load("ISD", "clips", root=root)
    assert list(table.index) == list(clips["clip_id"])
    computed = table.dropna(how="all")
    assert sorted(computed.index) == sorted(ids)
    # the ISD names and units: the same columns as the published ones
    for col in ("LAeq_dBA", "LZeq_dB", "LCeq_dBC", "LA90_dBA", "LAmax_dBA"):
        assert col in table.columns and col in clips.columns
        assert computed[col].between(20, 120).all()
    # the plain name is the louder channel, value by value
    assert (computed["LAeq_dBA"] == computed[["LAeq_dBA_left", "LAeq_dBA_right"]].max(axis=1)).all()
    records = read_records(root, "ISD", "acoustic_indicators")
    prov = json.loads(records["provenance_json"].iloc[0])
    assert prov["calibration"]["kind"] == "pascal" and "mosqito" in prov["libraries"]
    report = validate_all(root, ["ISD"])
    assert report.valid, [str(e) for p in report.packages for e in p.errors][:5]


def test_a_killed_run_resumes_without_duplicates(
    isd_project: Path, shared_data: Path, tmp_path: Path
) -> None:
    def edit(params):
        params["acoustics"]["checkpoint_every"] = 1

    root = fresh(isd_project, tmp_path, edit)
    ids = arrange_media(root, shared_data, tmp_path / "media")
    clips = mosaiq.load("ISD", "clips", root=root)
    keep = clips[clips["clip_id"].isin(ids)]
    # only the four clips with audio: a clips table of the same package, cut to them
    records_file = root / "datasets" / "ISD" / "features" / "acoustic_indicators.csv"
    cmd = [str(BIN / "mosaiq"), "features", "acoustics", "ISD", "--no-progress"]
    cmd += ["--skip-missing-media", "--limit", str(len(keep) + 0)]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while time.time() < deadline:
        if records_file.is_file() and len(pd.read_csv(records_file)) >= 1:
            break
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = len(pd.read_csv(records_file)) if records_file.is_file() else 0
    run(cmd, cwd=root)
    records = read_records(root, "ISD", "acoustic_indicators")
    assert sorted(records["clip_id"]) == sorted(ids)
    assert not records["clip_id"].duplicated().any()
    assert first >= 1


def test_bad_audio_is_named_per_clip(isd_project: Path, shared_data: Path, tmp_path: Path) -> None:
    def edit(params):
        params["media"]["ISD"]["audio"]["sample_rate"] = 48000

    root = fresh(isd_project, tmp_path, edit)
    media = tmp_path / "media"
    arrange_media(root, shared_data, media)
    clips = mosaiq.load("ISD", "clips", root=root)
    rate, good = wavfile.read(media / "CT101.wav")
    assert rate == 48000
    assets = list(clips["audio_asset"].iloc[4:11])
    ids = list(clips["clip_id"].iloc[4:11])
    bad = dict(
        zip(
            ("truncated", "silent", "clipped", "sample_rate", "channels", "unreadable"),
            assets[:6],
            strict=True,
        )
    )
    whole = (media / "CT101.wav").read_bytes()
    (media / bad["truncated"]).write_bytes(whole[: len(whole) // 2])
    wavfile.write(media / bad["silent"], 48000, np.zeros_like(good))
    loud = np.clip(good / np.abs(good).max() * 4, -1, 1)
    wavfile.write(media / bad["clipped"], 48000, (loud * 32767).astype(np.int16))
    wavfile.write(media / bad["sample_rate"], 44100, good[:44100])
    wavfile.write(media / bad["channels"], 48000, good[:, 0].copy())
    (media / bad["unreadable"]).write_text("not audio\n")
    summary = run_acoustics(root, "ISD", progress=False, skip_missing_media=True, limit=11)
    reasons = dict(summary.skipped)
    assert summary.done == 4
    for (kind, asset), cid in zip(bad.items(), ids, strict=False):
        assert reasons[cid].startswith(kind), (kind, reasons[cid])
        assert asset in reasons[cid]
    assert reasons[ids[6]].startswith("missing")
    # without the flag the first bad clip stops the run; the finished clips stay
    with pytest.raises(FeatureRunError, match="truncated"):
        run_acoustics(root, "ISD", progress=False, limit=11)
    assert len(read_records(root, "ISD", "acoustic_indicators")) == 4


def test_clap_stage_with_seeded_random_weights(
    isd_project: Path, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def edit(params):
        params["clap"].update(pretrained=False, seed=3)

    root = fresh(isd_project, tmp_path, edit)
    ids = arrange_media(root, shared_data, tmp_path / "media")
    summary = run_clap(
        root, "ISD", progress=False, skip_missing_media=True, model=tiny_clap_config()
    )
    assert summary.done == 4
    matrix = mosaiq.load_features("ISD", "clap", root=root)
    got = matrix.dropna()
    assert sorted(got.index) == sorted(ids) and got.shape[1] == 16
    assert np.allclose(np.linalg.norm(got.to_numpy(), axis=1), 1, atol=1e-5)
    # append: nothing left to do, no duplicate; the same seed gives the same numbers
    again = run_clap(root, "ISD", progress=False, skip_missing_media=True, model=tiny_clap_config())
    assert again.done == 0 and again.already == 4
    other = tmp_path / "other"
    shutil.copytree(root, other)
    run_clap(
        other,
        "ISD",
        progress=False,
        skip_missing_media=True,
        mode="overwrite",
        model=tiny_clap_config(),
    )
    assert np.array_equal(mosaiq.load_features("ISD", "clap", root=other).dropna(), got)
    report = validate_all(root, ["ISD"])
    assert report.valid, [str(e) for p in report.packages for e in p.errors][:5]


def test_fetch_media_downloads_verifies_and_unpacks(
    project: Path,
    shared_data: Path,
    server: tuple[str, Path],  # noqa: F811  (the fixture imported above)
    tmp_path: Path,
) -> None:
    """`mosaiq fetch DeLTA --media` from a Zenodo-shaped record on a local server: the archive
    is checksum-verified and unpacked into the media root; a member leaving it is refused."""
    import zipfile

    from tests.test_fetch import _zenodo_record

    base, served = server
    archive = tmp_path / "DeLTA_mp3_boost_8dB.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for group in EXCERPTS[:2]:
            src = shared_data / "ISD" / "audio" / f"trimmed_{group}.wav"
            zf.write(src, f"DeLTA_mp3_boost_8dB/{group}.wav")
    _zenodo_record(served, base, 7158057, {archive.name: archive})
    media = tmp_path / "media"
    set_params(
        project,
        lambda p: (
            p["fetch"].update(zenodo_api=f"{base}/api"),
            p["media"]["DeLTA"].update(root=str(media)),
        ),
    )
    out = run([str(BIN / "mosaiq"), "fetch", "DeLTA", "--media"], cwd=project).stdout
    assert "2 files unpacked" in out
    for group in EXCERPTS[:2]:
        got = media / "DeLTA_mp3_boost_8dB" / f"{group}.wav"
        want = shared_data / "ISD" / "audio" / f"trimmed_{group}.wav"
        assert got.read_bytes() == want.read_bytes()
    # present and verified: nothing downloaded again
    assert (
        "present, checksum ok"
        in run([str(BIN / "mosaiq"), "fetch", "DeLTA", "--media"], cwd=project).stdout
    )
    # a tampered archive on the server: the checksum refuses it, nothing is kept
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../outside.wav", b"x")
    (served / "files" / "7158057" / archive.name).write_bytes(evil.read_bytes())
    proc = run(
        [str(BIN / "mosaiq"), "fetch", "DeLTA", "--media", "--force"], cwd=project, check=False
    )
    assert proc.returncode != 0 and "checksum mismatch" in proc.stderr
    assert not (media.parent / "outside.wav").exists()


def test_satp_and_delta_link_their_stimuli_by_setting(tmp_path: Path, shared_data: Path) -> None:
    from mosaiq.build import build_dataset
    from mosaiq.errors import MosaiqError
    from tests.conftest import point_at_shared_data

    root = copy_project(tmp_path / "p")
    point_at_shared_data(root, shared_data, ("SATP", "DeLTA"))
    build_dataset(root, "SATP")
    assert mosaiq.load("SATP", "clips", root=root)["audio_asset"].isna().all()  # none by default
    build_dataset(root, "DeLTA")
    delta = mosaiq.load("DeLTA", "clips", root=root)
    assert (delta["audio_asset"] == "DeLTA_mp3_boost_8dB/" + delta["recording"]).all()
    set_params(root, lambda p: p["build"]["SATP"].update(audio_asset="stimuli/{recording}.wav"))
    build_dataset(root, "SATP")
    satp = mosaiq.load("SATP", "clips", root=root)
    assert (satp["audio_asset"] == "stimuli/" + satp["recording"] + ".wav").all()
    assert len(satp) == 27 and (satp["start_s"] == 0).all()
    set_params(root, lambda p: p["build"]["SATP"].update(audio_asset="{Recording}.wav"))
    with pytest.raises(
        MosaiqError, match=r"build.SATP.audio_asset .*no column\(s\) \['Recording'\]"
    ):
        build_dataset(root, "SATP")


def test_the_benchmark_reads_computed_indicators_or_says_it_needs_media(
    isd_project: Path, shared_data: Path, tmp_path: Path
) -> None:
    from mosaiq.benchmark.baselines import leaderboard, run_task
    from mosaiq.benchmark.plots import make_all
    from mosaiq.benchmark.splits import write_splits

    root = fresh(isd_project, tmp_path)
    for rel in ("benchmark/tasks.yaml", "benchmark/tasks.schema.json"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    write_splits(root)
    before = run_task(root, "isd_iso", bootstrap=0)["result"]
    for name in ("ridge_indicators", "elastic_net_indicators", "ridge_audio"):
        assert before["baselines"][name]["status"].startswith("needs media"), name
    assert "needs media" in leaderboard({"isd_iso": before})
    assert before["baselines"]["ridge_acoustic"]["status"] == "ok"

    arrange_media(root, shared_data, tmp_path / "media")
    run_acoustics(root, "ISD", progress=False, skip_missing_media=True, limit=4)
    # the four excerpts are all at one location, so on one side of the split only
    parts = [mosaiq.load_task("isd_iso", split, root=root)[0] for split in ("train", "test")]
    X = pd.concat(parts)
    assert X["indicators:LAeq_dBA"].notna().sum() == 4
    assert "LAeq_dBA" in X.columns  # the published value beside it
    after = run_task(root, "isd_iso", bootstrap=0)["result"]
    assert after["baselines"]["ridge_audio"]["status"].startswith("needs media")
    made = {p.name for p in make_all(root)}
    assert "isd_indicators_computed_vs_published.png" in made
