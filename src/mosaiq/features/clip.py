"""``mosaiq features clip <DS>``: CLIP embeddings of clip videos, as FeatureRecords.

A CLIP run is a reader and an encoder on the shared machinery (``runner.py``, ``writer.py``):

- :class:`FrameReader` resolves a clip's video inside the video root, decodes the frames its
  sampling rule picks (``frames.py``) and preprocesses them exactly as open_clip's evaluation
  transform does (``encoder.py``);
- :class:`ClipEncoder` encodes a batch of frames with the image tower and returns one
  L2-normalised vector per clip (``k`` frames are mean-pooled and renormalised);
- the writer stores the vectors (``clip.storage``) and the records, checkpoint by checkpoint.

- ``append`` (default) computes only the clips with no record for this feature definition and
  keeps every existing record; ``overwrite`` rebuilds the feature from scratch.
- A definition is the settings that change the numbers: model, weights (tag, or checkpoint
  sha256, or seed), frame sampling, preprocessing, precision and stored dtype. Batch size,
  threads and device do not define it.
- An interrupted run (even ``kill -9``) resumes where the last checkpoint ended.
- Missing or unreadable videos are listed in the summary; with ``--skip-missing-video`` the run
  goes on, otherwise it stops cleanly (everything finished so far is kept) with a non-zero exit.
  Assets that would leave the video root are always refused.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.errors import MosaiqError
from mosaiq.features.encoder import Encoder, checkpoint_of, file_sha256, load_encoder
from mosaiq.features.frames import RULES, AssetError, decode_frames, resolve_asset
from mosaiq.features.runner import (
    Decoded,
    FeatureRunError,
    Job,
    Progress,
    Summary,
    jobs_of,
    run_feature,
    todo,
)
from mosaiq.features.store import ArrayStore, dataset_dir
from mosaiq.features.writer import (
    FeatureSpec,
    FeatureWriter,
    code_version,
    generated_at,
    libraries,
)
from mosaiq.settings import load_params, param

__all__ = ["FeatureRunError", "run"]

FEATURE_NAME = "clip_embedding"
FEATURE_TYPE = "visual_clip_embedding"
SPEC = FeatureSpec(FEATURE_NAME, FEATURE_TYPE, "visual")
PREPROCESSING = "open_clip eval transform"  # part of the definition: it changes the numbers
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
        "preprocessing": PREPROCESSING,
        "precision": settings.precision,
        "dtype": settings.dtype,
    }


class FrameReader:
    """Job -> the clip's sampled frames, decoded and preprocessed (a tensor of n frames)."""

    def __init__(self, videos: Path, settings: ClipSettings, model: Encoder) -> None:
        self.videos, self.settings, self.model = videos, settings, model

    def __call__(self, job: Job) -> Decoded:
        path = resolve_asset(self.videos, job.asset or "")
        try:
            frames = decode_frames(
                path,
                rule=self.settings.sampling,
                k=self.settings.frames,
                start_s=job.start_s,
                end_s=job.end_s,
            )
        except AssetError:
            raise
        except MosaiqError as exc:
            raise AssetError(str(exc), kind="unreadable") from exc
        # preprocessing here overlaps with the model; the decoded images are dropped at once
        tensor = self.model.preprocess([f.image for f in frames])
        return Decoded(
            job.clip_id,
            tensor,
            n=len(frames),
            fields={
                "frame_time_s": round(frames[0].time_s, 6),
                "frame_index": frames[0].index,
                "n_frames": len(frames),
                "pooling": "mean" if len(frames) > 1 else "none",
            },
            provenance={
                "frame_times_s": [round(f.time_s, 6) for f in frames],
                "frame_indices": [f.index for f in frames],
            },
        )


class ClipEncoder:
    """A batch of clips' frames -> one L2-normalised embedding per clip (frames mean-pooled)."""

    def __init__(self, model: Encoder) -> None:
        self.model = model

    def encode(self, batch: Sequence[Decoded]) -> list[np.ndarray]:
        import torch

        z = self.model.encode(torch.cat([d.inputs for d in batch]))
        out, at = [], 0
        for d in batch:
            v = z[at : at + d.n]
            at += d.n
            if d.n > 1:
                v = v.mean(axis=0)
                v = v / max(float(np.linalg.norm(v)), 1e-12)
            else:
                v = v[0]
            out.append(v)
        return out


def provenance(settings: ClipSettings, model: Encoder, root: Path, defn: dict[str, Any]) -> dict:
    """What every record of a run carries."""
    return {
        **model.provenance,
        "libraries": libraries("torch", "open_clip_torch", "av", "pillow", "numpy"),
        "frame_sampling": {
            "rule": settings.sampling,
            "frames": settings.frames,
            "pooling": "mean of L2-normalised frame embeddings, renormalised"
            if settings.frames > 1
            else "none",
            "seek": "PyAV: keyframe before the target, decode forward",
        },
        "generated_at": generated_at(),
        "code_version": code_version(root),
        "definition": defn,
    }


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

    summary = Summary(dataset, FEATURE_NAME, media="video")
    params = load_params(root)
    settings = ClipSettings.from_params(params)
    store = ArrayStore(dataset_dir(root, dataset), FEATURE_NAME, settings.storage, settings.dtype)
    checkpoint = checkpoint_of(settings.model, settings.pretrained)
    defn = definition(settings, file_sha256(checkpoint) if checkpoint else None)
    writer = FeatureWriter(root, dataset, SPEC, defn, store, mode=mode)
    clips = load(dataset, "clips", root=root)
    jobs = jobs_of(clips, "video_asset")
    summary.total, summary.no_asset = len(clips), len(clips) - len(jobs)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending:  # no model is loaded when there is nothing to compute
        return summary.finish()
    if "torch" not in sys.modules:  # before OpenMP starts: idle threads sleep, not spin
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    model = load_encoder(
        settings.model,
        settings.pretrained,
        device=settings.device,
        precision=settings.precision,
        seed=settings.seed,
        threads=settings.threads or None,
    )
    writer.provenance = provenance(settings, model, root, defn)
    bar = Progress(progress, len(pending), f"{dataset} CLIP")
    try:
        return run_feature(
            pending,
            FrameReader(video_root(root, params, dataset), settings, model),
            ClipEncoder(model),
            writer,
            summary,
            batch_units=settings.batch_size,
            checkpoint_every=settings.checkpoint_every,
            skip_missing=skip_missing_video,
            skip_hint="--skip-missing-video skips missing or unreadable videos",
            progress=bar.advance,
        )
    finally:
        bar.close()
