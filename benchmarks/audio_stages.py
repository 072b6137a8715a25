"""Benchmark: the audio feature stages (`mosaiq features acoustics|clap <DS>`), end to end.

    uv run python benchmarks/audio_stages.py [--isd ../shared/data/ISD/audio] [--synthetic 2]
        [--isd-seconds 1.0] [--rss-acoustics 8 16]
        [--rss-clap 28 40] [--memory-only] [--skip-clap]

``benchmarks/audio_features.py`` measures the encoders (:mod:`mosaiq.audio`); this measures the
stages on the shared runner and writer (:func:`mosaiq.features.acoustics.run_acoustics`,
:func:`mosaiq.features.clap.run_clap`): reading and checking the clip windows, calibration,
encoding, records, provenance and checkpoints. A project with ISD built is made in a temporary
folder; its media root holds the four real ISD excerpts under the names the ISD layout gives
their recordings (as ``tests/audio/test_audio_stages.py`` arranges them), or synthetic 30 s
binaural float WAV files (``audio_features.make_clips``) under those names. Clips without a file
are skipped (``--skip-missing-media``), as a partly fetched dataset would be.

For each stage and input it prints clips/s and the real-time factor (RTF = compute time / audio
duration) of the stage and of a naive per-clip loop in the same process (the naive loops of
``audio_features.py``: soundscapy's ``Binaural`` calls one metric at a time; CLAP one clip and
one window at a time, model load included as in the stage), on CPU time of this process (the
machine is shared; wall time is printed too). The full ``isd`` set runs on the first
``--isd-seconds`` of the ISD excerpts (it costs about 15x real time). CLAP runs the size of
``laion/clap-htsat-unfused`` with seeded random weights. Peak resident memory (VmHWM) of each
stage is measured in a child process per configuration, at two numbers of 30 s clips.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# as `mosaiq features clap` sets it: idle OpenMP threads sleep (no spinning on CPU time)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import audio_features as af  # noqa: E402

EXCERPTS = ("CT101", "CT102", "CT103", "CT104")


def build_project(where: Path) -> Path:
    from tests.conftest import copy_project

    from mosaiq.build import build_dataset
    from mosaiq.catalogue import build_catalogue

    root = copy_project(where / "project")
    build_dataset(root, "ISD")
    build_catalogue(root)
    return root


def set_media(root: Path, media: Path, indicators: str = "fast") -> None:
    import yaml

    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["media"]["ISD"]["root"] = str(media)
    params.setdefault("acoustics", {})["indicators"] = indicators
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def arrange(root: Path, media: Path, files: list[Path], groups: list[str] | None = None) -> None:
    """``files[i]`` as the recording of group ``groups[i]`` (the first groups of the clips
    table when not given)."""
    import mosaiq

    clips = mosaiq.load("ISD", "clips", root=root)
    if groups is None:
        groups = list(dict.fromkeys(clips["GroupID"].astype(str)))[: len(files)]
    if media.exists():
        shutil.rmtree(media)
    media.mkdir(parents=True)
    for group, src in zip(groups, files, strict=True):
        row = clips[clips["GroupID"] == group].iloc[0]
        shutil.copy(src, media / str(row["audio_asset"]))


def clip_paths(root: Path, media: Path) -> list[Path]:
    """The file of every clip the stage will compute (a recording shared by several clips is
    computed once per clip, by the stage and by the naive loop alike)."""
    import mosaiq

    clips = mosaiq.load("ISD", "clips", root=root)
    assets = clips["audio_asset"].dropna().astype(str)
    return [media / a for a in assets if (media / a).is_file()]


def trim(src: Path, dst: Path, seconds: float) -> Path:
    from scipy.io import wavfile

    rate, data = wavfile.read(src)
    wavfile.write(dst, rate, data[: round(seconds * rate)])
    return dst


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def stage(kind: str, root: Path) -> Any:
    from transformers import ClapConfig

    from mosaiq.features.acoustics import run_acoustics
    from mosaiq.features.clap import run_clap

    if kind == "acoustics":
        return run_acoustics(root, "ISD", mode="overwrite", skip_missing_media=True, progress=False)
    return run_clap(
        root,
        "ISD",
        mode="overwrite",
        skip_missing_media=True,
        progress=False,
        model=ClapConfig(),
    )


def naive(kind: str, preset: str, paths: list[Path]) -> None:
    if kind == "acoustics":
        af.naive_acoustics(paths, preset)
    else:
        af.naive_clap(af.clap_encoder(), paths)


def row(label: str, n: int, cpu: float, wall: float, audio_s: float, base: float | None) -> str:
    text = (
        f"  {label:<30} {n / cpu:8.3f} clips/s  RTF {cpu / audio_s:7.3f}  (CPU {cpu:6.1f} s, "
        f"wall {wall:6.1f} s)"
    )
    if base is not None:
        text += f"  x{base / cpu:5.2f} vs naive"
    return text


def compare(kind: str, preset: str, root: Path, media: Path, what: str) -> None:
    set_media(root, media, preset)
    paths = clip_paths(root, media)
    audio_s = af.duration(paths)
    b_cpu, b_wall, _ = timed(lambda: naive(kind, preset, paths))
    s_cpu, s_wall, summary = timed(lambda: stage(kind, root))
    assert summary.done == len(paths), (summary.done, len(paths))
    label = f"{kind} {preset}" if kind == "acoustics" else kind
    print(f" {label}: {len(paths)} clips, {what} ({audio_s:.0f} s of audio)")
    print(row("naive per-clip loop", len(paths), b_cpu, b_wall, audio_s, None))
    print(row("stage (runner + writer)", len(paths), s_cpu, s_wall, audio_s, b_cpu))


def child(kind: str, root: Path) -> None:
    summary = stage(kind, root)
    print(json.dumps({"clips": summary.done, "rss_mb": af.peak_rss_mb()}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--isd", type=Path, default=ROOT.parent / "shared" / "data" / "ISD" / "audio")
    ap.add_argument("--synthetic", type=int, default=2, help="30 s clips per comparison")
    ap.add_argument("--isd-seconds", type=float, default=1.0, help="excerpt length, 'isd' set")
    ap.add_argument("--isd-full", type=int, default=2, help="ISD excerpts for the 'isd' set")
    # beyond the runner's read-ahead (max(4, 2 x batch) clips) and one batch (acoustics 1, CLAP 8)
    ap.add_argument("--rss-acoustics", type=int, nargs=2, default=(8, 16), help="30 s clips")
    ap.add_argument("--rss-clap", type=int, nargs=2, default=(28, 40), help="30 s clips")
    ap.add_argument("--memory-only", action="store_true")
    ap.add_argument("--skip-clap", action="store_true")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return
    tmp = Path(tempfile.mkdtemp(prefix="mosaiq-audio-stages-"))
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    import torch

    print(f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    t0 = time.perf_counter()
    root = build_project(tmp)
    print(f"ISD project built in {time.perf_counter() - t0:.1f} s (not counted)")
    isd = [args.isd / f"trimmed_{g}.wav" for g in EXCERPTS]
    isd = [p for p in isd if p.is_file()]
    if not isd:
        print(f"no ISD excerpts under {args.isd}: synthetic clips only")
    synth = af.make_clips(
        tmp / "synthetic", max(args.synthetic, *args.rss_acoustics, *args.rss_clap)
    )
    short = [trim(p, tmp / f"short_{p.name}", args.isd_seconds) for p in isd[: args.isd_full]]
    groups = list(EXCERPTS[: len(isd)])

    # warm-up (imports, first calls), not timed
    warm = af.make_clips(tmp / "warm", 1, seconds=1.0)
    arrange(root, tmp / "media_warm", warm)
    for kind in ["acoustics"] + ([] if args.skip_clap else ["clap"]):
        set_media(root, tmp / "media_warm")
        stage(kind, root)
    af.naive_acoustics(warm, "fast")

    print("\nstages against a naive per-clip loop (CPU time of this process)")
    (tmp / "media_empty").mkdir()
    set_media(root, tmp / "media_empty")
    for kind in ["acoustics"] + ([] if args.skip_clap else ["clap"]):
        cpu, wall, summary = timed(lambda: stage(kind, root))  # noqa: B023
        print(
            f" {kind} run with no audio file present ({len(summary.skipped)} clips skipped): "
            f"CPU {cpu:.2f} s, wall {wall:.2f} s (fixed cost of a run, in every line below)"
        )
    cases: list[tuple[str, str, str, list[Path], list[str] | None]] = []
    if isd:
        cases.append(("acoustics", "fast", "ISD excerpts (3 s)", isd, groups))
    cases.append(("acoustics", "fast", "synthetic 30 s", synth[: args.synthetic], None))
    if short:
        what = f"ISD excerpts cut to {args.isd_seconds:g} s"
        cases.append(("acoustics", "isd", what, short, groups[: len(short)]))
    if not args.skip_clap:
        if isd:
            cases.append(("clap", "", "ISD excerpts (3 s)", isd, groups))
        cases.append(("clap", "", "synthetic 30 s", synth[: args.synthetic], None))
    for i, (kind, preset, what, files, grp) in enumerate([] if args.memory_only else cases):
        media = tmp / f"media_{i}"
        arrange(root, media, files, grp)
        compare(kind, preset or "fast", root, media, what)

    print("\npeak resident memory of a stage run (VmHWM, own process each, fast set)")
    for kind in ["acoustics"] + ([] if args.skip_clap else ["clap"]):
        for n in args.rss_acoustics if kind == "acoustics" else args.rss_clap:
            media = tmp / f"media_rss_{n}"
            arrange(root, media, synth[:n])
            set_media(root, media)
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
            info = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"  {kind:<10} {info['clips']:4d} clips ({n} recordings of 30 s): "
                f"{info['rss_mb']:7.0f} MB"
            )


if __name__ == "__main__":
    main()
