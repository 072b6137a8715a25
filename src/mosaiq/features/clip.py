"""``mosaiq features clip <DS>``: CLIP embeddings of clip videos, as FeatureRecords.

The run is a reader, an encoder and a writer (as in clip-retrieval): a reader thread resolves and
decodes the sampled frames of each clip (PyAV releases the GIL while decoding) into a bounded
queue, the main thread preprocesses and encodes them in batches, and the writer stores each
checkpoint's arrays and then rewrites the record file atomically.

- ``append`` (default) computes only the clips with no record for this feature definition and
  keeps every existing record; ``overwrite`` rebuilds the feature from scratch.
- A definition is the settings that change the numbers: model, weights (tag, or checkpoint
  sha256, or seed), frame sampling, precision and stored dtype. Batch size, threads and device
  do not define it. ``definition_id`` is a hash of it and part of every ``feature_id``.
- An interrupted run (even ``kill -9``) resumes where the last checkpoint ended: records are
  only ever written after their arrays, atomically, so there are no half-written or duplicate
  records; arrays no record refers to are removed at the next start.
- Missing or unreadable videos are listed in the summary; with ``--skip-missing-video`` the run
  goes on, otherwise it stops cleanly (everything finished so far is kept) with a non-zero exit.
  Assets that would leave the video root are always refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.features.frames import RULES, AssetError, Frame, decode_frames, resolve_asset
from mosaiq.features.store import ArrayStore, dataset_dir, read_records, record_keys, write_records
from mosaiq.settings import load_params, param

FEATURE_NAME = "clip_embedding"
FEATURE_TYPE = "visual_clip_embedding"
MODES = ("append", "overwrite")
PROVENANCE_KEYS = (
    "model",
    "pretrained",
    "weights",
    "checkpoint_sha256",
    "libraries",
    "frame_sampling",
    "preprocessing",
    "device",
    "precision",
    "generated_at",
    "code_version",
)


@dataclass
class ClipSettings:
    model: str = "ViT-B-32"
    pretrained: str | None = "openai"
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    dtype: str = "float16"
    storage: str = "shards"
    sampling: str = "centre"
    frames: int = 1
    batch_size: int = 32
    threads: int = 0
    checkpoint_every: int = 512

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ClipSettings:
        node = dict(param(params, "clip", {}) or {})
        known = {k: node[k] for k in cls.__dataclass_fields__ if k in node}
        unknown = sorted(set(node) - set(known))
        if unknown:
            raise MosaiqError(f"params.yaml clip: unknown settings {unknown}")
        settings = cls(**known)
        if settings.sampling not in RULES:
            raise MosaiqError(f"clip.sampling {settings.sampling!r} is not one of {RULES}")
        if settings.sampling == "centre":
            settings.frames = 1
        return settings


def video_root(root: Path, params: dict[str, Any], dataset: str) -> Path:
    value = param(params, f"video.{dataset}.root")
    if not value:
        raise MosaiqError(f"params.yaml video.{dataset}.root is not set")
    p = Path(str(value)).expanduser()
    return p if p.is_absolute() else root / p


def definition(settings: ClipSettings, checkpoint_sha256: str | None) -> dict[str, Any]:
    weights: dict[str, Any] = (
        {"checkpoint_sha256": checkpoint_sha256}
        if checkpoint_sha256
        else (
            {"pretrained": settings.pretrained}
            if settings.pretrained
            else {"random_seed": settings.seed}
        )
    )
    return {
        "feature": FEATURE_NAME,
        "model": settings.model,
        **weights,
        "sampling": settings.sampling,
        "frames": settings.frames,
        "precision": settings.precision,
        "dtype": settings.dtype,
    }


def definition_id(defn: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(defn, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Summary:
    dataset: str
    total: int = 0
    done: int = 0
    already: int = 0
    no_asset: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        out = [
            f"{self.dataset} {FEATURE_NAME}: {self.done} done, {self.already} already "
            f"recorded, {len(self.skipped)} skipped, {len(self.failed)} failed, "
            f"{self.no_asset} clips without a video asset, {self.seconds:.1f} s "
            f"({rate:.1f} clips/s)"
        ]
        out += [f"  skipped {cid}: {why}" for cid, why in self.skipped]
        out += [f"  failed {cid}: {why}" for cid, why in self.failed]
        return out


def _code_version(root: Path) -> str:
    from mosaiq import __version__

    head = root / ".git" / "HEAD"
    commit = ""
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref_file = root / ".git" / ref[5:]
            commit = ref_file.read_text().strip() if ref_file.is_file() else ""
        else:
            commit = ref
    except OSError:
        pass
    return f"mosaiq {__version__}" + (f" ({commit[:12]})" if commit else "")


def _libraries() -> dict[str, str]:
    from importlib.metadata import version

    return {lib: version(lib) for lib in ("torch", "open_clip_torch", "av", "numpy")}


def _generated_at() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat()


def run(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    skip_missing_video: bool = False,
    progress: bool = True,
) -> Summary:
    from mosaiq.api import load

    if mode not in MODES:
        raise MosaiqError(f"mode {mode!r} is not one of {MODES}")
    started = time.perf_counter()
    params = load_params(root)
    settings = ClipSettings.from_params(params)
    summary = Summary(dataset)
    clips = load(dataset, "clips", root=root, built_only=False)
    summary.total = len(clips)
    with_asset = clips[clips["video_asset"].notna()]
    summary.no_asset = len(clips) - len(with_asset)
    store = ArrayStore(dataset_dir(root, dataset), FEATURE_NAME, settings.storage, settings.dtype)
    records = read_records(root, dataset, FEATURE_NAME)
    if mode == "overwrite":
        records = records.iloc[0:0]
    from mosaiq.features.encoder import _checkpoint_of, file_sha256

    checkpoint = _checkpoint_of(settings.model, settings.pretrained)
    defn = definition(settings, file_sha256(checkpoint) if checkpoint else None)
    def_id = definition_id(defn)
    have = set(records.loc[records["definition_id"] == def_id, "clip_id"].astype(str))
    todo = with_asset[~with_asset["clip_id"].isin(have)]
    summary.already = len(with_asset) - len(todo)
    if limit is not None:
        todo = todo.iloc[: max(0, int(limit))]
    # the record file and the array folder always exist (they are the stage's outputs);
    # arrays that no record refers to are what an interrupted run left behind
    write_records(root, dataset, FEATURE_NAME, records)
    store.folder.mkdir(parents=True, exist_ok=True)
    store.remove_unreferenced(set(records["feature_path"].dropna().astype(str)))
    if todo.empty:
        summary.seconds = time.perf_counter() - started
        return summary

    from mosaiq.features.encoder import load_encoder

    encoder = load_encoder(
        settings.model,
        settings.pretrained,
        device=settings.device,
        precision=settings.precision,
        seed=settings.seed,
        threads=settings.threads or None,
    )
    base_provenance = {
        **encoder.provenance,
        "libraries": _libraries(),
        "frame_sampling": {
            "rule": settings.sampling,
            "frames": settings.frames,
            "pooling": "mean of L2-normalised frame embeddings, renormalised"
            if settings.frames > 1
            else "none",
            "seek": "PyAV: keyframe before the target, decode forward",
        },
        "generated_at": _generated_at(),
        "code_version": _code_version(root),
        "definition": defn,
    }
    vroot = video_root(root, params, dataset)
    jobs = list(todo[["clip_id", "video_asset", "start_s", "end_s"]].itertuples(index=False))
    pending: list[tuple[str, list[Frame], np.ndarray]] = []

    def flush() -> None:
        nonlocal records
        if not pending:
            return
        ids = [p[0] for p in pending]
        located = store.put(ids, np.stack([p[2] for p in pending]))
        rows = []
        for (cid, frames, _vec), where in zip(pending, located, strict=True):
            prov = {
                **base_provenance,
                "frame_times_s": [round(f.time_s, 6) for f in frames],
                "frame_indices": [f.index for f in frames],
            }
            rows.append(
                {
                    **record_keys(dataset, cid, FEATURE_NAME, FEATURE_TYPE, def_id),
                    "feature_dimension": encoder.dim,
                    "dtype": settings.dtype,
                    "frame_time_s": round(frames[0].time_s, 6),
                    "frame_index": frames[0].index,
                    "n_frames": len(frames),
                    "pooling": "mean" if len(frames) > 1 else "none",
                    "provenance_json": json.dumps(prov, sort_keys=True, separators=(",", ":")),
                    **where,
                }
            )
        new = pd.DataFrame(rows)
        records = pd.concat([records, new], ignore_index=True) if not records.empty else new
        write_records(root, dataset, FEATURE_NAME, records)
        summary.done += len(pending)
        pending.clear()

    frame_queue: queue.Queue = queue.Queue(maxsize=max(4, 2 * settings.batch_size))
    stop = threading.Event()

    def reader() -> None:
        for job in jobs:
            if stop.is_set():
                break
            try:
                path = resolve_asset(vroot, job.video_asset)
                frames = decode_frames(
                    path,
                    rule=settings.sampling,
                    k=settings.frames,
                    start_s=_num(job.start_s),
                    end_s=_num(job.end_s),
                )
                # preprocessing here overlaps with the model; the images are dropped at once
                tensor = encoder.preprocess([f.image for f in frames])
                meta = [Frame(f.time_s, f.index, None) for f in frames]
                frame_queue.put((job.clip_id, (meta, tensor), None))
            except AssetError as exc:
                frame_queue.put((job.clip_id, None, exc))
            except MosaiqError as exc:
                frame_queue.put((job.clip_id, None, AssetError(str(exc), kind="unreadable")))
        frame_queue.put(None)

    thread = threading.Thread(target=reader, name="mosaiq-frame-reader", daemon=True)
    thread.start()
    bar = _progress(progress, len(jobs), dataset)
    batch: list[tuple[str, Any]] = []
    error: AssetError | None = None
    error_clip = ""
    try:
        while True:
            item = frame_queue.get()
            if item is None:
                break
            cid, frames, exc = item
            if exc is not None:
                if exc.kind == "refused" or not skip_missing_video:
                    error, error_clip = exc, cid
                    summary.failed.append((cid, str(exc)))
                    stop.set()
                    break
                summary.skipped.append((cid, f"{exc.kind}: {exc}"))
                bar.advance()
                continue
            batch.append((cid, frames))
            if sum(len(meta) for _, (meta, _t) in batch) >= settings.batch_size:
                _encode(encoder, batch, pending)
                bar.advance(len(batch))
                batch = []
            if len(pending) >= settings.checkpoint_every:
                flush()
        if batch:  # the clips read before the end (or before an error) are kept
            _encode(encoder, batch, pending)
            bar.advance(len(batch))
        flush()
    finally:
        stop.set()
        bar.close()
        while thread.is_alive():  # let the reader finish the item it holds
            try:
                frame_queue.get_nowait()
            except queue.Empty:
                thread.join(0.05)
    summary.seconds = time.perf_counter() - started
    if error is not None:
        raise FeatureRunError(
            summary,
            f"{dataset} clip {error_clip}: {error} (the "
            f"{summary.done} clips finished before it are kept; "
            "--skip-missing-video skips missing or unreadable videos)",
        )
    return summary


class FeatureRunError(MosaiqError):
    def __init__(self, summary: Summary, message: str) -> None:
        super().__init__(message)
        self.summary = summary


def _num(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _encode(
    encoder, batch: list[tuple[str, Any]], pending: list[tuple[str, list[Frame], np.ndarray]]
) -> None:
    import torch

    z = encoder.encode(torch.cat([tensor for _, (_meta, tensor) in batch]))
    at = 0
    for cid, (frames, _tensor) in batch:
        v = z[at : at + len(frames)]
        at += len(frames)
        if len(frames) > 1:
            v = v.mean(axis=0)
            v = v / max(float(np.linalg.norm(v)), 1e-12)
        else:
            v = v[0]
        pending.append((cid, frames, v))


class _Bar:
    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _progress(enabled: bool, total: int, dataset: str) -> _Bar:
    if not enabled:
        return _Bar()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    class _Rate(TextColumn):
        def render(self, task):  # clips per second
            speed = task.finished_speed or task.speed
            return f"{speed:.1f} clips/s" if speed else "- clips/s"

    progress = Progress(
        TextColumn(f"{dataset} CLIP"),
        BarColumn(),
        MofNCompleteColumn(),
        _Rate(""),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
    progress.start()
    return _Bar(progress, progress.add_task("clips", total=total))
