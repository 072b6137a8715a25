"""Benchmark: CLIP feature extraction throughput, memory, and DVC transfer per storage layout.

    uv run python benchmarks/clip_features.py [--clips 200] [--rss 100 2000] [--transfer 20000]

Everything runs on synthetic 30 s H.264 videos (1920x1080 by default, 25 fps, a keyframe every
2 s) made here, and a ViT-B-32 with seeded random weights (same compute as the released weights;
nothing is downloaded). It prints:

1. clips/s of (a) a naive loop - open each video, decode every frame up to the centre, open_clip's
   PIL preprocessing, batch 1, fp32 - and (b) the shipped pipeline (`mosaiq features clip`:
   seek to the keyframe before the centre, batched, decoding overlapped with inference), in fp32
   and bf16, with the ratio to (a), measured in this process;
2. the CPU time per clip of each part measured alone (seek+decode, preprocess, model at the
   shipped batch size) and the limit they imply: cores / total CPU time per clip;
3. the peak resident memory of the shipped pipeline at two numbers of clips (each in its own
   process);
4. `dvc push` and `dvc pull` times of N stored embeddings to a local remote, per layout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

W, H = 1920, 1080  # --size
FPS, SECONDS, GOP = 25, 30, 50
POOL = 16  # distinct video files; clips cycle through them


def make_videos(folder: Path) -> list[str]:
    import av

    folder.mkdir(parents=True, exist_ok=True)
    names = []
    rng = np.random.default_rng(0)
    for v in range(POOL):
        name = f"clip{v:02d}.mp4"
        with av.open(str(folder / name), "w") as c:
            s = c.add_stream("libx264", rate=FPS)
            s.width, s.height, s.pix_fmt = W, H, "yuv420p"
            s.options = {"g": str(GOP), "preset": "veryfast", "crf": "23"}
            base = rng.integers(0, 255, size=(H // 8, W // 8, 3), dtype=np.uint8)
            for i in range(FPS * SECONDS):
                img = np.roll(base, i, axis=1).repeat(8, 0).repeat(8, 1)
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        names.append(name)
    return names


def project(work: Path, n: int, videos: Path, names: list[str], precision: str) -> Path:
    """A copy of the project with ISD built and n clips linked to the synthetic videos."""
    import yaml
    from tests.conftest import copy_project, set_params

    import mosaiq
    from mosaiq.build import build_dataset
    from mosaiq.package import table_to_csv

    root = work / f"project-{n}-{precision}"
    if root.exists():
        shutil.rmtree(root)
    copy_project(root)
    build_dataset(root, "ISD")
    clips = mosaiq.load("ISD", "clips", root=root)
    if n > len(clips):
        raise SystemExit(f"at most {len(clips)} clips")
    idx = clips.index[:n]
    clips.loc[idx, "video_asset"] = [names[i % len(names)] for i in range(n)]
    schema = yaml.safe_load((root / "datasets/ISD/schemas/clips.schema.yaml").read_text())
    (root / "datasets/ISD/data/clips.csv").write_bytes(table_to_csv(clips, schema))

    def edit(p):
        p["video"]["ISD"]["root"] = str(videos)
        p["clip"].update(
            model="ViT-B-32", pretrained=None, precision=precision, checkpoint_every=10_000
        )

    set_params(root, edit)
    return root


def naive(videos: Path, names: list[str], n: int) -> float:
    import open_clip
    import torch
    from PIL import Image

    from mosaiq.features.frames import decode_sequential

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, pretrained_text=False).eval()
    preprocess = open_clip.image_transform(224, is_train=False)
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(n):
            frame = decode_sequential(videos / names[i % len(names)], SECONDS / 2)
            x = preprocess(Image.fromarray(frame))[None]
            z = model.encode_image(x)
            z = z / z.norm(dim=-1, keepdim=True)
    return n / (time.perf_counter() - t)


def shipped(root: Path) -> tuple[float, int]:
    from mosaiq.features.clip import run

    summary = run(root, "ISD", mode="overwrite", progress=False)
    return summary.done / summary.seconds, summary.done


def parts(videos: Path, names: list[str], batch: int, reps: int = 3) -> dict[str, float]:
    """CPU seconds per clip of each stage alone."""
    from mosaiq.features.encoder import load_encoder
    from mosaiq.features.frames import decode_frames

    enc = load_encoder("ViT-B-32", None, device="cpu")
    frames = []
    t = time.process_time()
    for i in range(batch * reps):
        frames.append(decode_frames(videos / names[i % len(names)], [SECONDS / 2])[0].image)
    decode = (time.process_time() - t) / len(frames)
    t = time.process_time()
    batches = [enc.preprocess(frames[j : j + batch]) for j in range(0, len(frames), batch)]
    prep = (time.process_time() - t) / len(frames)
    enc.encode(batches[0])  # warm-up
    t = time.process_time()
    for b in batches:
        enc.encode(b)
    model = (time.process_time() - t) / len(frames)
    return {"seek+decode": decode, "preprocess": prep, f"model (batch {batch})": model}


_RSS_CHILD = """
import json, resource, sys
from pathlib import Path
from mosaiq.features.clip import run
s = run(Path(sys.argv[1]), "ISD", mode="overwrite", progress=False)
print(json.dumps({"done": s.done, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                  / 1024}))
"""


def transfer(work: Path, n: int) -> list[tuple[str, int, float, float, float]]:
    """dvc push / no-op push / pull of n float16 512-d embeddings to a local remote."""
    from mosaiq.features.store import ArrayStore

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((n, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"clip{i:06d}" for i in range(n)]
    dvc = str(Path(sys.executable).parent / "dvc")
    out = []
    for layout in ("npy", "shards"):
        repo = work / f"transfer-{layout}"
        remote = work / f"remote-{layout}"
        for p in (repo, remote):
            shutil.rmtree(p, ignore_errors=True)
        repo.mkdir()
        env = {**os.environ, "DVC_NO_ANALYTICS": "1"}

        def run(*cmd, cwd=repo, env=env):
            return subprocess.run(cmd, cwd=cwd, env=env, check=True, capture_output=True, text=True)

        run("git", "init", "-q")
        run(dvc, "init", "-q")
        run(dvc, "remote", "add", "-d", "local", str(remote))
        store = ArrayStore(repo, "clip_embedding", layout, "float16")
        for j in range(0, n, 512):  # checkpoints of 512 clips, as the pipeline writes them
            store.put(ids[j : j + 512], vectors[j : j + 512])
        files = sum(1 for _ in store.folder.iterdir())
        run(dvc, "add", "-q", "features/clip_embedding")
        t = time.perf_counter()
        run(dvc, "push", "-q")
        push = time.perf_counter() - t
        t = time.perf_counter()
        run(dvc, "push", "-q")
        noop = time.perf_counter() - t
        shutil.rmtree(repo / ".dvc" / "cache")
        shutil.rmtree(store.folder)
        t = time.perf_counter()
        run(dvc, "pull", "-q")
        pull = time.perf_counter() - t
        out.append((layout, files, push, noop, pull))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=200, help="clips per throughput run")
    parser.add_argument("--naive-clips", type=int, default=40)
    parser.add_argument("--rss", type=int, nargs="*", default=[100, 2000])
    parser.add_argument("--transfer", type=int, default=20000)
    parser.add_argument("--size", default="1920x1080", help="video frame size, WxH")
    args = parser.parse_args()
    global W, H
    W, H = (int(v) for v in args.size.lower().split("x"))
    import torch

    cores = os.cpu_count() or 1
    work = Path(tempfile.mkdtemp(prefix="mosaiq-clip-bench-"))
    try:
        videos = work / "videos"
        names = make_videos(videos)
        print(
            f"{POOL} synthetic videos: {W}x{H}, {FPS} fps, {SECONDS} s, keyframe every "
            f"{GOP / FPS:g} s; ViT-B-32, random weights; {cores} cores, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads"
        )
        base = naive(videos, names, args.naive_clips)
        print(f"(a) naive loop (sequential decode, PIL, batch 1, fp32): {base:6.2f} clips/s")
        results = {}
        for precision in ("fp32", "bf16"):
            rate, _ = shipped(project(work, args.clips, videos, names, precision))
            results[precision] = rate
            print(
                f"(b) shipped pipeline, {precision}: {rate:6.2f} clips/s  "
                f"({rate / base:.1f}x the naive loop)"
            )
        from mosaiq.features.clip import ClipSettings

        batch = ClipSettings().batch_size
        cpu = parts(videos, names, batch)
        total = sum(cpu.values())
        print(
            "CPU time per clip, each part alone: "
            + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in cpu.items())
        )
        limit = cores / total
        print(
            f"limit = {cores} cores / {total * 1000:.1f} ms = {limit:.2f} clips/s; shipped fp32 "
            f"reaches {results['fp32'] / limit:.0%} of it"
        )
        for n in args.rss:
            root = project(work, n, videos, names, "fp32")
            proc = subprocess.run(
                [sys.executable, "-c", _RSS_CHILD, str(root)],
                capture_output=True,
                text=True,
                check=True,
            )
            info = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"peak RSS, shipped pipeline, {info['done']} clips: {info['rss_mb']:.0f} MB")
        if args.transfer:
            print(f"\ndvc push/pull of {args.transfer:,} float16 embeddings (local remote):")
            for layout, files, push, noop, pull in transfer(work, args.transfer):
                print(
                    f"  {layout:7} {files:6,} files: push {push:6.1f} s, no-op push "
                    f"{noop:5.1f} s, pull {pull:6.1f} s"
                )
        print(
            f"\nthis process: peak RSS "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
