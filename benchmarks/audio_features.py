"""Benchmark: acoustic indicators and CLAP audio embeddings, throughput and memory.

    uv run python benchmarks/audio_features.py [--isd ../shared/data/ISD/audio] [--synthetic 4]
        [--full-isd 2] [--clap-synthetic 8] [--rss 2 8] [--skip-clap]

Inputs: the real ISD excerpts (3 s, binaural, pascals) when the folder is given and present, and
synthetic 30 s binaural float WAV files made here (noise shaped towards low frequencies plus
tones, about 70 dB). CLAP runs the size of ``laion/clap-htsat-unfused`` (transformers' default
``ClapConfig``) with seeded random weights: the same compute as the released weights, nothing
downloaded. Every figure is measured in this process, on this machine; ratios compare with a naive
per-clip loop run in the same process:

- acoustics, naive: soundscapy's ``Binaural`` API as documented, one call per metric
  (``from_wav``; ``acoustics_metric`` for LZeq/LCeq/LAeq; MoSQITo ``loudness_zwst`` per channel;
  for the full set ``mosqito_metric('loudness_zwtv')``, ``('sharpness_din_from_loudness')``
  and ``('roughness_dw')``, channels one after the other): loudness is computed twice;
- acoustics, shipped: :mod:`mosaiq.audio` (one loudness pass per channel gives N and S);
- CLAP, naive: one clip at a time, one window per forward pass;
- CLAP, shipped: windows of several clips batched (``batch_size`` 8).

It prints clips/s and the real-time factor (RTF = compute time / audio duration; below 1 is
faster than real time), the cost of each indicator group per second of one channel, and the peak
resident memory of the shipped acoustics and CLAP loops at two numbers of clips (each in its own
process, so the figures are not mixed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mosaiq.audio.clap import ClapEncoder

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
RATE = 48000


def make_clips(folder: Path, n: int, seconds: float = 30.0) -> list[Path]:
    from scipy.io import wavfile
    from scipy.signal import lfilter

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        path = folder / f"synthetic_{i:02d}.wav"
        if not path.is_file():
            rng = np.random.default_rng(i)
            t = np.arange(round(seconds * RATE)) / RATE
            chans = []
            for ch in range(2):
                white = rng.normal(0, 1, t.size)
                brown = lfilter([1.0], [1.0, -0.995], white)  # more energy at low frequency
                x = brown / brown.std() * 0.05 + 0.02 * np.sin(2 * np.pi * (440 + 50 * ch) * t)
                x *= 1 + 0.5 * np.sin(2 * np.pi * 0.2 * t)  # slow level changes
                chans.append(x)
            data = np.stack(chans, axis=1)
            data *= 0.063 / np.sqrt(np.mean(data**2))  # ~70 dB re 20 uPa
            wavfile.write(path, RATE, data.astype(np.float32))
        out.append(path)
    return out


def shipped_acoustics(paths: list[Path], preset: str) -> tuple[float, dict[str, float]]:
    from mosaiq.audio.acoustics import compute_indicators
    from mosaiq.audio.calibration import Calibration
    from mosaiq.audio.media import read_audio

    cal = Calibration.from_params("pascal").resolve()
    groups: dict[str, float] = {}
    t0 = time.perf_counter()
    for p in paths:
        r = compute_indicators(cal.apply(read_audio(p)), preset)
        for g, s in r.seconds.items():
            groups[g] = groups.get(g, 0.0) + s
    return time.perf_counter() - t0, groups


def naive_acoustics(paths: list[Path], preset: str) -> float:
    from mosqito.sq_metrics import loudness_zwst
    from soundscapy.audio import Binaural

    t0 = time.perf_counter()
    for p in paths:
        b = Binaural.from_wav(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for metric in ("LZeq", "LCeq", "LAeq"):
                b.acoustics_metric(
                    metric,
                    statistics=(5, 10, 50, 90, 95, "avg", "max", "min"),
                    func_args={"time": 0.125, "method": "average"},
                )
            for ch in range(2):
                loudness_zwst(np.asarray(b[ch], dtype=np.float64), b.fs, field_type="free")
            if preset == "isd":
                stats = (5, 10, 50, 90, 95, "avg", "max", "min")
                b.mosqito_metric("loudness_zwtv", statistics=stats, parallel=False)
                b.mosqito_metric("sharpness_din_from_loudness", statistics=stats, parallel=False)
                b.mosqito_metric("roughness_dw", statistics=stats, parallel=False)
    return time.perf_counter() - t0


def duration(paths: list[Path]) -> float:
    from mosaiq.audio.media import probe_audio

    return sum(probe_audio(p).duration_s or 0.0 for p in paths)


def line(label: str, n: int, seconds: float, audio_s: float, base: float | None = None) -> str:
    text = f"  {label:<34} {n / seconds:8.3f} clips/s   RTF {seconds / audio_s:7.3f}"
    if base is not None:
        text += f"   x{base / seconds:5.2f} vs naive"
    return text


def clap_encoder(batch_size: int = 8) -> ClapEncoder:
    from transformers import ClapConfig

    from mosaiq.audio.clap import load_clap

    return load_clap(ClapConfig(), pretrained=False, seed=0, device="cpu", batch_size=batch_size)


def shipped_clap(enc: ClapEncoder, paths: list[Path], chunk: int = 8) -> float:
    from mosaiq.audio.media import AudioSpec, read_audio

    spec = AudioSpec(analysis_rate=enc.rate)
    t0 = time.perf_counter()
    for i in range(0, len(paths), chunk):
        clips = []
        for p in paths[i : i + chunk]:
            a = read_audio(p, spec)
            clips.append((a.samples, a.rate))
        enc.embed(clips)
    return time.perf_counter() - t0


def naive_clap(enc: ClapEncoder, paths: list[Path]) -> float:
    from mosaiq.audio.media import AudioSpec, read_audio

    spec = AudioSpec(analysis_rate=enc.rate)
    t0 = time.perf_counter()
    for p in paths:
        a = read_audio(p, spec)
        z = [enc.encode_windows([w]) for w in enc.windows(a.samples, a.rate)]
        m = np.concatenate(z).mean(axis=0)
        _ = m / np.linalg.norm(m)
    return time.perf_counter() - t0


def child(kind: str, folder: Path, n: int) -> None:
    paths = make_clips(folder, n)
    if kind == "acoustics":
        shipped_acoustics(paths, "fast")
    else:
        shipped_clap(clap_encoder(), paths)
    print(json.dumps({"clips": n, "rss_mb": peak_rss_mb()}))


def peak_rss_mb() -> float:
    """This process image's peak resident memory. VmHWM, not ru_maxrss: Linux carries
    ru_maxrss over an exec, so a child started from a big parent would report the parent's."""
    status = Path("/proc/self/status")
    if status.is_file():
        for text in status.read_text().splitlines():
            if text.startswith("VmHWM:"):
                return int(text.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--isd", type=Path, default=ROOT.parent / "shared" / "data" / "ISD" / "audio")
    ap.add_argument("--synthetic", type=int, default=4, help="30 s clips for the fast set")
    ap.add_argument("--full-isd", type=int, default=2, help="ISD excerpts for the full set")
    ap.add_argument("--full-synthetic", type=int, default=0, help="30 s clips, full set")
    ap.add_argument("--clap-synthetic", type=int, default=8)
    ap.add_argument("--rss", type=int, nargs=2, default=(2, 8))
    ap.add_argument("--skip-clap", action="store_true")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return
    import torch

    print(f"torch threads {torch.get_num_threads()}, cores {os.cpu_count()}")
    tmp = Path(tempfile.mkdtemp(prefix="mosaiq-audio-bench-"))
    most = max(args.synthetic, args.clap_synthetic, args.full_synthetic, *args.rss)
    synth = make_clips(tmp, most)
    isd = sorted(args.isd.glob("*.wav")) if args.isd.is_dir() else []
    # warm-up of both paths (imports, first calls), not timed
    warm = make_clips(tmp / "warm", 1, seconds=1.0)
    shipped_acoustics(warm, "fast")
    naive_acoustics(warm, "fast")

    print("\nacoustic indicators (one process, one core for the computations)")
    sets = []
    if isd:
        sets.append(("fast", "ISD excerpts (3 s)", isd))
    sets.append(("fast", "synthetic 30 s", synth[: args.synthetic]))
    if isd and args.full_isd:
        sets.append(("isd", "ISD excerpts (3 s)", isd[: args.full_isd]))
    if args.full_synthetic:
        sets.append(("isd", "synthetic 30 s", synth[: args.full_synthetic]))
    costs: dict[str, list[float]] = {}
    for preset, what, paths in sets:
        audio_s = duration(paths)
        base = naive_acoustics(paths, preset)
        ours, groups = shipped_acoustics(paths, preset)
        print(f" {preset} set, {len(paths)} {what}")
        print(line("naive (soundscapy Binaural calls)", len(paths), base, audio_s))
        print(line("shipped (mosaiq.audio)", len(paths), ours, audio_s, base))
        for g, s in groups.items():
            costs.setdefault(g, []).append(s / (2 * audio_s))
    print("\ncost of each indicator group: seconds per second of one channel (RTF per channel)")
    for g, values in costs.items():
        print(f"  {g:<22} {np.mean(values):8.4f}")

    if not args.skip_clap:
        enc = clap_encoder()
        n_params = sum(p.numel() for p in enc.model.parameters())
        print(f"\nCLAP audio tower, clap-htsat-unfused size ({n_params / 1e6:.1f} M parameters)")
        shipped_clap(enc, synth[:1])  # warm-up
        for what, paths in (
            ("ISD excerpts (3 s)", isd),
            ("synthetic 30 s", synth[: args.clap_synthetic]),
        ):
            if not paths:
                continue
            audio_s = duration(paths)
            base = naive_clap(enc, paths)
            ours = shipped_clap(enc, paths)
            print(f" {len(paths)} {what}")
            print(line("naive (clip by clip, window by window)", len(paths), base, audio_s))
            print(line("shipped (windows batched)", len(paths), ours, audio_s, base))

    print("\npeak resident memory of the shipped loops (own process each)")
    kinds = ["acoustics"] + ([] if args.skip_clap else ["clap"])
    for kind in kinds:
        for n in args.rss:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(tmp), str(n)],
                capture_output=True,
                text=True,
                check=True,
            )
            info = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"  {kind:<10} {info['clips']:4d} clips of 30 s: {info['rss_mb']:7.0f} MB")


if __name__ == "__main__":
    main()
