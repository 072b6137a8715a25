"""Feature runs on a real Dask cluster (LocalCluster, worker processes on 127.0.0.1): the same
bytes as in one process, whatever the number of workers; a worker killed with ``kill -9``; a
client killed and run again; a scheduler that does not answer."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

import mosaiq
from mosaiq.errors import MosaiqError
from mosaiq.features import cityseg, clip
from mosaiq.features.store import FOLDER_INDEX, load_vector, read_records
from tests.conftest import BIN, set_params, tiny_clap_config
from tests.videos import write_h264, write_mp4v

os.environ["HF_HUB_OFFLINE"] = "1"
N_CLIPS = 10


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, object]]:
    """One LocalCluster of 2 worker processes for the module (a start takes seconds)."""
    import logging

    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            silence_logs=logging.ERROR,
        ) as lc,
        Client(lc) as client,
    ):
        yield lc.scheduler_address, client


@pytest.fixture(autouse=True)
def _fixed_time(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # generated_at is in every record


def write_video(path: Path, i: int) -> None:
    """mp4v at 20 fps and H.264 at 25 fps; clip 4's file is no video (it alone fails)."""
    if i == 4:
        path.write_bytes(b"not a video")
    elif i % 3 == 2:
        write_mp4v(path, 30 + i, fps=20)
    else:
        write_h264(path, 40 + i, fps=25, gop=10)


def _outputs(root: Path, name: str) -> dict[str, bytes]:
    """Every byte of a feature's record file and value folder."""
    features = root / "datasets/ISD/features"
    files = [features / f"{name}.csv"]
    if (features / name).is_dir():
        files += sorted(p for p in (features / name).rglob("*") if p.is_file())
    return {str(p.relative_to(features)): p.read_bytes() for p in files}


def _copy(root: Path, to: Path) -> Path:
    shutil.copytree(root, to)
    return to


@pytest.fixture(scope="module")
def clip_runs(clip_project, tmp_path_factory, cluster) -> dict[str, object]:
    """A CLIP project before any run, and the outputs of a run in one process."""
    base = tmp_path_factory.mktemp("dclip")
    mp = pytest.MonkeyPatch()
    mp.setenv("SOURCE_DATE_EPOCH", "1700000000")
    try:
        project = clip_project(
            base, write_video, n=N_CLIPS, end_s=1.5, seed=5, batch_size=2, shard_size=3
        )
        local = _copy(project, base / "local")
        summary = clip.run(local, "ISD", skip_missing_video=True, progress=False)
    finally:
        mp.undo()
    return {
        "project": project,
        "base": base,
        "local": _outputs(local, "clip_embedding"),
        "summary": summary,
    }


def test_clip_is_byte_identical_on_one_and_two_workers(clip_runs, cluster):
    address, _client = cluster
    project, base = clip_runs["project"], clip_runs["base"]
    local_summary = clip_runs["summary"]
    assert local_summary.done == N_CLIPS - 1 and len(local_summary.skipped) == 1
    one = _copy(project, base / "one")
    s1 = clip.run(one, "ISD", skip_missing_video=True, progress=False, workers=1)
    two = _copy(project, base / "two")
    s2 = clip.run(two, "ISD", skip_missing_video=True, progress=False, scheduler=address)
    assert _outputs(one, "clip_embedding") == clip_runs["local"]
    assert _outputs(two, "clip_embedding") == clip_runs["local"]
    # the bad video fails that clip only, reported as in one process
    assert s1.skipped == s2.skipped == local_summary.skipped
    assert s1.done == s2.done == N_CLIPS - 1
    assert len(s2.workers) == 2, "both workers computed shards"
    assert sum(n for n, _ in s2.workers.values()) == N_CLIPS
    assert any(line.startswith("  worker tcp://127.0.0.1:") for line in s2.lines())


def test_without_skipping_a_bad_video_stops_the_run_as_in_one_process(clip_runs, cluster):
    address, _client = cluster
    project, base = clip_runs["project"], clip_runs["base"]
    runs = {}
    for name, kwargs in {"local": {}, "cluster": {"scheduler": address}}.items():
        root = _copy(project, base / f"stop-{name}")
        with pytest.raises(clip.FeatureRunError) as err:
            clip.run(root, "ISD", progress=False, **kwargs)  # type: ignore[arg-type]
        runs[name] = (str(err.value), err.value.summary.failed, _outputs(root, "clip_embedding"))
    assert runs["local"] == runs["cluster"]
    assert "v4.mp4" in runs["local"][0] and len(runs["local"][1]) == 1


def test_a_worker_killed_mid_run_gives_the_same_bytes(clip_runs, cluster):
    address, client = cluster
    root = _copy(clip_runs["project"], clip_runs["base"] / "killed")
    pids: dict[str, int] = client.run(os.getpid)  # type: ignore[attr-defined]
    killed: list[str] = []

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]  # type: ignore[attr-defined]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            time.sleep(0.01)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    summary = clip.run(root, "ISD", skip_missing_video=True, progress=False, scheduler=address)
    killer.join()
    assert killed, "no worker was killed mid-run"
    assert summary.workers_lost == 1
    assert "1 workers lost during the run; their shards ran again" in summary.lines()[-1]
    assert summary.done == N_CLIPS - 1
    assert _outputs(root, "clip_embedding") == clip_runs["local"]
    client.wait_for_workers(2, timeout=60)  # type: ignore[attr-defined]


def test_a_killed_client_resumes_from_the_last_merged_shard(clip_runs, cluster):
    address, _client = cluster
    root = _copy(clip_runs["project"], clip_runs["base"] / "client")
    set_params(root, lambda p: p["compute"].update(shard_size=1))
    set_params(root, lambda p: p["clip"].update(checkpoint_every=1))
    records_file = root / "datasets/ISD/features/clip_embedding.csv"
    proc = subprocess.Popen(
        [str(BIN / "mosaiq"), "features", "clip", "ISD", "--no-progress", "--scheduler", address],
        cwd=root,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if records_file.is_file() and len(read_records(root, "ISD", "clip_embedding")) >= 2:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # the client only: the cluster goes on
    proc.wait()
    partial = read_records(root, "ISD", "clip_embedding")
    assert 2 <= len(partial) < N_CLIPS - 1, "the run was not interrupted mid-way"
    summary = clip.run(root, "ISD", skip_missing_video=True, progress=False, scheduler=address)
    assert summary.already == len(partial)
    records = read_records(root, "ISD", "clip_embedding")
    assert len(records) == N_CLIPS - 1 and records["clip_id"].is_unique
    assert records.head(len(partial)).equals(partial)  # nothing merged before is lost
    folder = root / "datasets/ISD/features"
    assert {
        f"features/clip_embedding/{p.name}"
        for p in (folder / "clip_embedding").iterdir()
        if p.name != FOLDER_INDEX  # the folder's index holds no value
    } == set(records["feature_path"])
    local_root = clip_runs["base"] / "local"
    local = read_records(local_root, "ISD", "clip_embedding").set_index("clip_id")
    for _, row in records.iterrows():
        np.testing.assert_array_equal(
            load_vector(root / "datasets/ISD", row.to_dict()),
            load_vector(
                local_root / "datasets/ISD",
                local.loc[row["clip_id"]].to_dict() | {"clip_id": row["clip_id"]},
            ),
        )


def test_cityseg_is_byte_identical_on_one_and_two_workers(built_isd, tmp_path, cluster):
    address, _client = cluster
    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    masks = tmp_path / "masks"
    rng = np.random.default_rng(7)
    clip_ids = mosaiq.load("ISD", "clips", root=root)["clip_id"].head(12).tolist()
    for i, cid in enumerate(clip_ids[:10]):  # the last two have no masks
        (masks / cid).mkdir(parents=True)
        for f in range(1 + i % 3):
            np.save(masks / cid / f"f{f:03d}.npy", rng.choice([0, 2, 8, 10, 11, 13, 255], (12, 9)))

    def edit(p):
        p["cityseg"]["masks_root"].update(ISD=str(masks))
        p["cityseg"]["inline_bytes"] = 200  # some summaries stored as files
        p["compute"]["shard_size"] = 4

    set_params(root, edit)
    outs, summaries = [], []
    for name, kwargs in {"local": {}, "one": {"workers": 1}, "two": {"scheduler": address}}.items():
        r = _copy(root, tmp_path / name)
        summaries.append(cityseg.run(r, "ISD", **kwargs))  # type: ignore[arg-type]
        outs.append(_outputs(r, "cityseg_summary"))
    assert outs[0] == outs[1] == outs[2]
    assert len(outs[0]) > 2, "some summaries are files"
    assert [s.done for s in summaries] == [10, 10, 10]


def test_a_scheduler_that_does_not_answer_is_a_clear_error_within_seconds(tmp_path):
    import socket

    with socket.socket() as s:  # a free port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from mosaiq.features.distributed import Compute, connect

    started = time.monotonic()
    with pytest.raises(MosaiqError, match=f"no Dask scheduler answers at tcp://127.0.0.1:{port}"):
        connect(Compute(scheduler=f"tcp://127.0.0.1:{port}", timeout_s=2))
    assert time.monotonic() - started < 10


def test_the_cli_names_the_scheduler_that_does_not_answer(clip_runs):
    root = _copy(clip_runs["project"], clip_runs["base"] / "cli")
    set_params(root, lambda p: p["compute"].update(timeout_s=2))
    started = time.monotonic()
    proc = subprocess.run(
        [
            str(BIN / "mosaiq"),
            "features",
            "clip",
            "ISD",
            "--no-progress",
            "--scheduler",
            "tcp://127.0.0.1:9",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert proc.returncode != 0
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in proc.stderr
    assert time.monotonic() - started < 30
    assert not (root / "datasets/ISD/features/clip_embedding").exists() or not any(
        p.name != FOLDER_INDEX for p in (root / "datasets/ISD/features/clip_embedding").iterdir()
    )


def test_compute_settings(tmp_path):
    from mosaiq.features.distributed import Compute

    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    assert not Compute.from_params(params).distributed  # the default: one process
    assert Compute.from_params(params, workers=3).workers == 3
    params["compute"]["workers"] = 4
    assert Compute.from_params(params, scheduler="tcp://h:8786").workers == 0
    with pytest.raises(MosaiqError, match="unknown settings"):
        Compute.from_params({"compute": {"worker": 2}})


def _audio_project(built_isd: Path, shared_data: Path, tmp_path: Path, edit=None) -> Path:
    """The built ISD project with the four real excerpts as its media (the other clips have
    none: skipped, listed)."""
    from tests.audio.test_audio_stages import arrange_media

    root = tmp_path / "project"
    shutil.copytree(built_isd, root)

    def point(p):
        p["media"]["ISD"]["root"] = str(tmp_path / "media")
        p["compute"]["shard_size"] = 2
        if edit:
            edit(p)

    set_params(root, point)
    arrange_media(root, shared_data, tmp_path / "media")
    return root


def _audio_runs(root: Path, tmp_path: Path, name: str, run, address: str, **kw) -> list:
    """The feature's outputs after a run in one process, and on the 2-worker cluster; the
    clips run: those of the excerpts among the first ones, some clips without media."""
    clips = mosaiq.load("ISD", "clips", root=root)
    outs, summaries = [], []
    for where, compute in {"local": {}, "two": {"scheduler": address}}.items():
        r = _copy(root, tmp_path / where)
        s = run(r, "ISD", progress=False, skip_missing_media=True, **compute, **kw)
        summaries.append(s)
        outs.append(_outputs(r, name))
    assert outs[0] == outs[1]
    assert [s.done for s in summaries] == [4, 4]
    assert [len(s.skipped) for s in summaries] == [len(clips) - 4] * 2
    return summaries


def test_acoustics_is_byte_identical_on_one_and_two_workers(
    built_isd, shared_data, tmp_path, cluster
):
    from mosaiq.features.acoustics import run_acoustics

    root = _audio_project(
        built_isd, shared_data, tmp_path, lambda p: p["acoustics"].update(indicators="fast")
    )
    summaries = _audio_runs(root, tmp_path, "acoustic_indicators", run_acoustics, cluster[0])
    assert len(summaries[1].workers) == 2  # both workers computed shards
    table = mosaiq.load_features("ISD", "acoustics", root=tmp_path / "two").dropna(how="all")
    assert len(table) == 4 and table.notna().any(axis=None)


def test_clap_is_byte_identical_on_one_and_two_workers(built_isd, shared_data, tmp_path, cluster):
    from mosaiq.audio.clap import definition
    from mosaiq.audio.media import AudioSpec
    from mosaiq.features.clap import ClapParts, ClapSettings, run_clap

    root = _audio_project(
        built_isd, shared_data, tmp_path, lambda p: p["clap"].update(pretrained=False, seed=3)
    )
    _audio_runs(root, tmp_path, "clap_embedding", run_clap, cluster[0], model=tiny_clap_config())
    # the client's definition, read from the config alone, is the loaded model's
    settings = ClapSettings(pretrained=False, seed=3)
    parts = ClapParts(tmp_path / "media", AudioSpec(), settings, tiny_clap_config())
    assert parts.definition() == {**definition(parts.load()), "dtype": "float32"}
    records = read_records(tmp_path / "two", "ISD", "clap_embedding")
    assert records["provenance_json"].str.contains('"weights":"random (seed 3)"', regex=False).all()
