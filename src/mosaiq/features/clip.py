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

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.errors import MosaiqError
from mosaiq.features.distributed import Compute, run_parts
from mosaiq.features.encoder import Encoder, checkpoint_of, file_sha256, load_encoder
from mosaiq.features.frames import RULES, AssetError, decode_frames, resolve_asset
from mosaiq.features.runner import (
    Decoded,
    FeatureRunError,
    Job,
    Progress,
    Reader,
    Summary,
    Value,
    jobs_of,
    todo,
)
from mosaiq.features.runner import Encoder as RunEncoder
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
        tensor = self.model.preprocess([f.image for f in frames if f.image is not None])
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

    def encode(self, batch: Sequence[Decoded]) -> list[Value]:
        import torch

        z = self.model.encode(torch.cat([d.inputs for d in batch]))
        out: list[Value] = []
        at = 0
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


@dataclass
class ClipParts:
    """The recipe of a CLIP run's reader and encoder (built where it runs: once per worker)."""

    videos: Path
    settings: ClipSettings

    @property
    def key(self) -> str:
        return json.dumps(["clip", str(self.videos), asdict(self.settings)], sort_keys=True)

    def build(self) -> tuple[Reader, RunEncoder, dict[str, Any]]:
        if "torch" not in sys.modules:  # before OpenMP starts: idle threads sleep, not spin
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        s = self.settings
        model = load_encoder(
            s.model,
            s.pretrained,
            device=s.device,
            precision=s.precision,
            seed=s.seed,
            threads=s.threads or None,
        )
        return FrameReader(self.videos, s, model), ClipEncoder(model), dict(model.provenance)


def provenance(settings: ClipSettings, root: Path, defn: dict[str, Any]) -> dict:
    """What every record of a run carries, besides what the model adds (its provenance)."""
    return {
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
    scheduler: str | None = None,
    workers: int | None = None,
) -> Summary:
    """Compute the dataset's CLIP embeddings; on a Dask cluster with ``scheduler`` or
    ``workers`` (or params.yaml ``compute``), in this process otherwise."""
    from mosaiq.api import load

    summary = Summary(dataset, FEATURE_NAME, media="video")
    params = load_params(root)
    settings = ClipSettings.from_params(params)
    store = ArrayStore(dataset_dir(root, dataset), FEATURE_NAME, settings.storage, settings.dtype)
    checkpoint = checkpoint_of(settings.model, settings.pretrained)
    defn = definition(settings, file_sha256(checkpoint) if checkpoint else None)
    writer = FeatureWriter(root, dataset, SPEC, defn, store, mode=mode)
    clips = load(dataset, "clips", root=root, built_only=False)
    jobs = jobs_of(clips, "video_asset")
    summary.total, summary.no_asset = len(clips), len(clips) - len(jobs)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending:  # no model is loaded when there is nothing to compute
        return summary.finish()
    bar = Progress(progress, len(pending), f"{dataset} CLIP")
    try:
        return run_parts(
            pending,
            ClipParts(video_root(root, params, dataset), settings),
            writer,
            summary,
            Compute.from_params(params, scheduler=scheduler, workers=workers),
            base_provenance=provenance(settings, root, defn),
            batch_units=settings.batch_size,
            checkpoint_every=settings.checkpoint_every,
            skip_missing=skip_missing_video,
            skip_hint="--skip-missing-video skips missing or unreadable videos",
            progress=bar.advance,
        )
    finally:
        bar.close()
