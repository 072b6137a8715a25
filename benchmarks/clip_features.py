"""Benchmark: CLIP feature extraction throughput, memory, and DVC transfer per storage layout.

    uv run python benchmarks/clip_features.py [--clips 96] [--rss 100 2000] [--transfer 20000]

Everything runs on synthetic 30 s H.264 videos (1920x1080 by default, 25 fps, a keyframe every
2 s) made here, and a ViT-B-32 with seeded random weights (same compute as the released weights;
nothing is downloaded). It prints:

1. the CPU time per clip of (a) a per-clip loop that seeks - open each video, seek to the
   keyframe before the centre and decode forward to it, open_clip's own transform, batch 1,
   fp32, with torch's default threads (a) and one thread (a1), the cheaper of the two taken as
   the baseline - and (b) the shipped pipeline (`mosaiq features clip`: batched, decoding overlapped
   with inference) in fp32 and bf16, on the same clips in this process, with the CPU-time ratio
   (b) over (a) (wall-clock rates beside it; on a shared machine wall time is skewed). Model
   loading is inside both timings, and its CPU time is printed. Both run with
   OMP_WAIT_POLICY=PASSIVE, which `mosaiq features clip` sets before torch starts (idle OpenMP
   threads sleep instead of spinning: on a busy machine spinning doubles a loop's CPU time);
2. the CPU time per clip of each part measured alone (seek+decode, preprocess, model at the
   shipped batch size), their sum (the per-clip CPU limit) and the fraction of it the pipeline
   reaches; the cost of one pass listing a file's packet timestamps; and how far the shipped
   model inputs are from open_clip's transform;
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
# what `mosaiq features clip` sets before torch starts, here for both the loop and the pipeline
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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


def project(
    work: Path, n: int, videos: Path, names: list[str], precision: str, threads: int = 0
) -> Path:
    """A copy of the project with ISD built and n clips linked to the synthetic videos."""
    import yaml
    from tests.conftest import copy_project, set_params

    import mosaiq
    from mosaiq.build import build_dataset
    from mosaiq.package import table_to_csv

    root = work / f"project-{n}-{precision}-{threads}"
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
            model="ViT-B-32",
            pretrained=None,
            precision=precision,
            threads=threads,
            checkpoint_every=10_000,
        )

    set_params(root, edit)
    return root


def reference_transform(model):
    """open_clip's own evaluation transform for the model (what create_model_and_transforms
    returns): the reference the shipped preprocessing must reproduce."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return image_transform_v2(PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)


def seek_frame(path: Path, time_s: float):
    """The frame displayed at ``time_s``: seek to the keyframe before it, decode forward."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        first = stream.start_time or 0
        target = first + int(time_s / float(stream.time_base))
        container.seek(target, stream=stream, backward=True, any_frame=False)
        chosen = None
        for frame in container.decode(stream):
            if frame.pts is not None and frame.pts > target:
                break
            chosen = frame
        if chosen is None:
            raise SystemExit(f"{path.name}: no frame at {time_s} s")
        return chosen.to_image()


def naive(videos: Path, names: list[str], n: int, threads: int = 0) -> tuple[float, float]:
    """A per-clip loop that seeks: open, seek, decode to the centre frame, open_clip's PIL
    transform, batch 1, fp32. Model loading is inside the timing, as it is in the pipeline.
    ``threads``: torch threads for this loop (0: torch's default). Returns (CPU s, wall s)."""
    import open_clip
    import torch

    default = torch.get_num_threads()
    torch.set_num_threads(threads or default)
    cpu, wall = time.process_time(), time.perf_counter()
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32", pretrained=None, pretrained_text=False).eval()
    preprocess = reference_transform(model)
    with torch.inference_mode():
        for i in range(n):
            image = seek_frame(videos / names[i % len(names)], SECONDS / 2)
            z = model.encode_image(preprocess(image)[None])
            z = z / z.norm(dim=-1, keepdim=True)
    spent = time.process_time() - cpu, time.perf_counter() - wall
    torch.set_num_threads(default)
    return spent


def shipped(root: Path) -> tuple[float, float, int]:
    """`mosaiq features clip` (model loading included). Returns (CPU s, wall s, clips)."""
    from mosaiq.features.clip import run

    cpu, wall = time.process_time(), time.perf_counter()
    summary = run(root, "ISD", mode="overwrite", progress=False)
    return time.process_time() - cpu, time.perf_counter() - wall, summary.done


def model_load_cpu() -> float:
    from mosaiq.features.encoder import load_encoder

    t = time.process_time()
    load_encoder("ViT-B-32", None, device="cpu")
    return time.process_time() - t


def listing_cpu(videos: Path, names: list[str]) -> float:
    """CPU seconds of one pass over a file's packets (what listing every timestamp costs)."""
    import av

    t = time.process_time()
    for name in names:
        with av.open(str(videos / name)) as container:
            stream = container.streams.video[0]
            sorted(p.pts for p in container.demux(stream) if p.pts is not None)
    return (time.process_time() - t) / len(names)


def parts(videos: Path, names: list[str], batch: int, reps: int = 2) -> dict[str, float]:
    """CPU seconds per clip of each stage alone, and how far the shipped preprocessing is from
    open_clip's transform (max absolute difference of the model inputs)."""
    import torch
    from PIL import Image

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
    import open_clip

    torch.manual_seed(0)
    ref = reference_transform(open_clip.create_model("ViT-B-32", pretrained=None))
    reference = torch.stack([ref(Image.fromarray(f)) for f in frames[:batch]])
    differ = float((batches[0].cpu().float() - reference).abs().max())
    enc.encode(batches[0])  # warm-up
    t = time.process_time()
    for b in batches:
        enc.encode(b)
    model = (time.process_time() - t) / len(frames)
    return {
        "seek+decode": decode,
        "preprocess": prep,
        f"model (batch {batch})": model,
        "input difference": differ,
    }


def clip_throughput(work: Path, videos: Path, names: list[str], n: int) -> None:
    """Naive seeking loop against the shipped pipeline, in CPU time, on the same n clips."""
    from mosaiq.features.clip import ClipSettings

    loops = {}
    for threads in (0, 1):
        loops[threads] = naive(videos, names, n, threads)
        cpu, wall = loops[threads]
        print(
            f"(a{threads or ''}) per-clip loop that seeks (open_clip transform, batch 1, fp32, "
            f"{'default' if not threads else 1} torch threads), {n} clips: "
            f"{cpu / n * 1000:6.1f} ms CPU/clip, {n / wall:5.2f} clips/s wall"
        )
    # the baseline is the loop that spends less CPU (batch-1 threads spin between clips)
    base_cpu, base_wall = min(loops.values())
    per_clip = {}
    import torch

    default_threads = torch.get_num_threads()
    for precision, threads in (("fp32", 0), ("fp32", 1), ("bf16", 0)):
        cpu, wall, done = shipped(project(work, n, videos, names, precision, threads))
        per_clip.setdefault(precision, cpu / done)
        print(
            f"(b) shipped pipeline, {precision}, {threads or 'default'} torch threads, {done} "
            f"clips: {cpu / done * 1000:6.1f} ms CPU/clip, {done / wall:5.2f} clips/s wall; "
            f"CPU-time ratio {base_cpu / cpu:.2f}x the loop (wall {base_wall / wall:.2f}x)"
        )
        torch.set_num_threads(default_threads)  # clip.threads sets it for the process
    print(f"model loading (inside both timings): {model_load_cpu():.2f} s CPU")
    listing = listing_cpu(videos, names)
    print(f"one pass listing a file's packet timestamps: {listing * 1000:.1f} ms CPU")
    batch = ClipSettings().batch_size
    cpu_parts = parts(videos, names, batch)
    differ = cpu_parts.pop("input difference")
    total = sum(cpu_parts.values())
    print(
        "CPU time per clip, each part alone: "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in cpu_parts.items())
    )
    print(
        f"per-clip CPU limit = sum of the parts = {total * 1000:.1f} ms; shipped fp32 takes "
        f"{per_clip['fp32'] * 1000:.1f} ms: {total / per_clip['fp32']:.0%} of the limit reached"
    )
    print(f"model inputs vs open_clip's transform: max |difference| {differ:.4f}")


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
    parser.add_argument("--clips", type=int, default=96, help="clips per throughput run")
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
            f"{torch.__version__}, {torch.get_num_threads()} threads, OMP_WAIT_POLICY "
            f"{os.environ.get('OMP_WAIT_POLICY')}"
        )
        clip_throughput(work, videos, names, args.clips)
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
