"""Feature runs on a Dask cluster against the same run in one process.

    uv run python benchmarks/distributed.py [--clips 8] [--seconds 30] [--skip-clip]

Measures, in one process, wall time for the same clips and the same writer:

- acoustic indicators (``mosaiq.audio.acoustics.compute_indicators``, CPU-bound) as the encoder
  of a reader that synthesises a seeded 30 s stereo noise signal in pascals per clip, through
  the generic parts path (``features/distributed.py``);
- CLIP (ViT-B-32, random weights; synthetic 640x360 H.264 videos) through ``mosaiq features
  clip``'s own ``run``;

each in one process, on a LocalCluster of 1 worker (the overhead of the cluster path) and of 2
workers (the speed-up), checking that the three give the same record bytes; it prints the load
average too (on a shared machine the speed-up is bounded by the cores actually free). From the
per-clip CPU time in one process it prints a plan for all of ARAUS (25,440 stimuli of 30 s):
wall time and worker-hours on 16, 64 and 256 workers (one core per worker, perfect scaling
assumed, plus the measured per-run overhead of the cluster path).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# this file's folder first on the path would shadow the `distributed` package by this file
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("SOURCE_DATE_EPOCH", "1700000000")

ARAUS_STIMULI = 25_440
LAST_CPU = 0.0  # CPU seconds of this process in the last run


@dataclass
class NoiseReader:
    seconds: float
    rate: int = 48_000

    def __call__(self, job: Any) -> Any:
        from mosaiq.audio.media import Audio, AudioInfo
        from mosaiq.features.runner import Decoded

        seed = int.from_bytes(job.clip_id.encode()[-4:], "little")
        n = int(self.seconds * self.rate)
        x = np.random.default_rng(seed).normal(0.0, 0.05, (2, n))  # ~65 dB SPL noise, in Pa
        info = AudioInfo(Path(job.clip_id), "pcm_f32le", "flt", self.rate, 2, self.seconds)
        audio = Audio(x, self.rate, info, 0.0, self.seconds, units="pascal")
        return Decoded(job.clip_id, audio)


class IndicatorEncoder:
    def encode(self, batch: Any) -> list[Any]:
        from mosaiq.audio.acoustics import compute_indicators

        return [compute_indicators(d.inputs).values for d in batch]


@dataclass
class AcousticParts:
    seconds: float

    @property
    def key(self) -> str:
        return f"bench-acoustics {self.seconds}"

    def build(self) -> tuple[Any, Any, dict[str, Any]]:
        return NoiseReader(self.seconds), IndicatorEncoder(), {}


def built_project(work: Path) -> Path:
    from tests.conftest import copy_project

    from mosaiq.build import build_dataset

    root = work / "project"
    copy_project(root)
    build_dataset(root, "ISD")
    return root


def acoustic_run(base: Path, name: str, n: int, seconds: float, workers: int) -> tuple[float, Any]:
    import mosaiq
    from mosaiq.features.distributed import Compute, run_parts
    from mosaiq.features.runner import Job, Summary
    from mosaiq.features.store import JsonStore, dataset_dir
    from mosaiq.features.writer import FeatureSpec, FeatureWriter

    root = base.parent / name
    shutil.copytree(base, root)
    spec = FeatureSpec("bench_acoustics", "acoustic_indicators", "audio")
    store = JsonStore(dataset_dir(root, "ISD"), spec.name, 4096)
    writer = FeatureWriter(root, "ISD", spec, {"feature": spec.name}, store)
    writer.start()
    ids = mosaiq.load("ISD", "clips", root=root)["clip_id"].head(n).tolist()
    summary = Summary("ISD", spec.name)
    global LAST_CPU
    c0, t0 = time.process_time(), time.perf_counter()
    run_parts(
        [Job(str(c)) for c in ids],
        AcousticParts(seconds),
        writer,
        summary,
        Compute(workers=workers, shard_size=1),
        base_provenance={"bench": True},
        batch_units=1,
        checkpoint_every=n,
    )
    wall = time.perf_counter() - t0
    LAST_CPU = time.process_time() - c0  # this process only: the run in one process
    return wall, (root / "datasets/ISD/features/bench_acoustics.csv").read_bytes()


def clip_run(base: Path, name: str, workers: int) -> tuple[float, Any]:
    from mosaiq.features import clip

    root = base.parent / name
    shutil.copytree(base, root)
    global LAST_CPU
    c0, t0 = time.process_time(), time.perf_counter()
    clip.run(root, "ISD", progress=False, workers=workers or None)
    wall = time.perf_counter() - t0
    LAST_CPU = time.process_time() - c0
    return wall, (root / "datasets/ISD/features/clip_embedding.csv").read_bytes()


def clip_project(work: Path, base: Path, n: int) -> Path:
    import benchmarks.clip_features as cf
    from tests.conftest import set_params

    cf.W, cf.H = 640, 360
    names = cf.make_videos(work / "videos")
    root = cf.project(work, n, work / "videos", names, "fp32")
    set_params(root, lambda p: p["compute"].update(shard_size=8))
    set_params(root, lambda p: p["clip"].update(batch_size=8))
    return root


def compare(label: str, runs: dict[str, tuple[float, bytes]], n: int) -> float:
    one = runs["one process"][0]
    for name, (wall, data) in runs.items():
        same = "identical" if data == runs["one process"][1] else "DIFFERENT"
        print(
            f"  {label:10s} {name:14s} {wall:7.1f} s  {n / wall:6.2f} clips/s  "
            f"{one / wall:5.2f}x  {same}"
        )
    return runs["1 worker"][0] - one  # overhead of the cluster path


def plan(label: str, per_clip_s: float, overhead_s: float) -> None:
    print(f"  ARAUS plan, {label}: {per_clip_s:.2f} s per 30 s stimulus on one worker")
    for w in (16, 64, 256):
        wall = ARAUS_STIMULI * per_clip_s / w + overhead_s
        print(
            f"    {w:4d} workers: {wall / 3600:6.2f} h wall, "
            f"{w * wall / 3600:7.1f} worker-hours (of which compute "
            f"{ARAUS_STIMULI * per_clip_s / 3600:.1f})"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--clip-clips", type=int, default=64)
    ap.add_argument("--skip-clip", action="store_true")
    args = ap.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = built_project(work)
        runs = {"one process": acoustic_run(base, "ac-0", args.clips, args.seconds, 0)}
        cpu = LAST_CPU
        for name, w in (("1 worker", 1), ("2 workers", 2)):
            runs[name] = acoustic_run(base, f"ac-{w}", args.clips, args.seconds, w)
        overhead = compare("acoustics", runs, args.clips)
        print(f"  cluster path overhead, 1 worker vs one process: {overhead:+.1f} s per run")
        print(f"  CPU time per clip in one process: {cpu / args.clips:.2f} s")
        plan("acoustic indicators", cpu / args.clips * 30.0 / args.seconds, max(overhead, 0.0))
        if not args.skip_clip:
            cbase = clip_project(work, base, args.clip_clips)
            runs = {"one process": clip_run(cbase, "clip-0", 0)}
            cpu = LAST_CPU
            for name, w in (("1 worker", 1), ("2 workers", 2)):
                runs[name] = clip_run(cbase, f"clip-{w}", w)
            overhead = compare("CLIP", runs, args.clip_clips)
            print(f"  cluster path overhead, 1 worker vs one process: {overhead:+.1f} s per run")
            print(f"  CPU time per clip in one process: {cpu / args.clip_clips:.3f} s")
            plan("CLIP (1 frame)", cpu / args.clip_clips, max(overhead, 0.0))


if __name__ == "__main__":
    main()
