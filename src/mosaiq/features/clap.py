"""``mosaiq features clap <DS>``: CLAP audio embeddings of the clips.

The shared audio reader (:mod:`mosaiq.features.audio`, file units: no calibration, the model
never saw pascals) and :class:`ClapAudioEncoder` (:mod:`mosaiq.audio.clap`: down-mixed,
resampled to the model's rate, windowed and mean-pooled by the declared rule) on the shared
runner and writer; vectors stored like CLIP's (``clap.storage``, ``clap.dtype``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mosaiq.audio.media import AudioSpec
from mosaiq.errors import MosaiqError
from mosaiq.features.audio import (
    SKIP_HINT,
    AudioReader,
    AudioSummary,
    MediaSettings,
    audio_jobs,
    media_absent,
)
from mosaiq.features.runner import (
    Decoded,
    FeatureRunError,
    Progress,
    Summary,
    Value,
    run_feature,
    todo,
)
from mosaiq.features.store import ArrayStore, dataset_dir, read_records
from mosaiq.features.writer import FeatureSpec, FeatureWriter, code_version, generated_at
from mosaiq.settings import load_params, param

__all__ = ["FeatureRunError", "run_clap"]

CLAP = FeatureSpec("clap_embedding", "audio_embedding", "audio")


class ClapAudioEncoder:
    """Clips -> one pooled, L2-normalised CLAP embedding each."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, batch: Sequence[Decoded]) -> list[Value]:
        z = self.model.embed([(d.inputs.samples, d.inputs.rate) for d in batch])
        return list(z)


@dataclass
class ClapSettings:
    model: str = "laion/clap-htsat-unfused"
    pretrained: bool = True
    checkpoint: str | None = None
    checkpoint_sha256: str | None = None
    seed: int = 0
    device: str = "auto"
    window_s: float = 10.0
    hop_s: float = 10.0
    min_window_s: float = 1.0
    dtype: str = "float32"
    storage: str = "shards"
    batch_size: int = 8
    threads: int = 0
    checkpoint_every: int = 256

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ClapSettings:
        node = dict(param(params, "clap", {}) or {})
        known = {k: node[k] for k in cls.__dataclass_fields__ if k in node}
        unknown = sorted(set(node) - set(known))
        if unknown:
            raise MosaiqError(f"params.yaml clap: unknown settings {unknown}")
        return cls(**known)


def run_clap(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    skip_missing_media: bool = False,
    progress: bool = True,
    model: Any = None,
) -> Summary:
    """``model``: a transformers ``ClapConfig`` to use instead of ``clap.model`` (random weights
    from ``clap.seed``; tests and benchmarks)."""
    from mosaiq.audio.clap import definition, load_clap

    params = load_params(root)
    settings = ClapSettings.from_params(params)
    media = MediaSettings.from_node(root, param(params, f"media.{dataset}"), dataset)
    summary = AudioSummary(dataset, CLAP.name, media="audio")
    jobs = audio_jobs(root, dataset, summary)
    store = ArrayStore(dataset_dir(root, dataset), CLAP.name, settings.storage, settings.dtype)
    # the definition needs the loaded model's preprocessing: with nothing to do, none is loaded
    # and the records are kept as they are (append) or emptied (overwrite)
    records = read_records(root, dataset, CLAP.name)
    done_ids = set(records["clip_id"].astype(str)) if mode == "append" else set()
    if not [j for j in jobs if j.clip_id not in done_ids] or media_absent(media, dataset, summary):
        writer = FeatureWriter(root, dataset, CLAP, {"feature": CLAP.name}, store, mode=mode)
        summary.already = sum(j.clip_id in done_ids for j in jobs)
        writer.start()
        return summary.finish()
    assert media.root is not None
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    encoder = load_clap(
        model if model is not None else settings.model,
        pretrained=settings.pretrained and model is None,
        checkpoint=settings.checkpoint,
        checkpoint_sha256=settings.checkpoint_sha256,
        seed=settings.seed,
        device=settings.device,
        window_s=settings.window_s,
        hop_s=settings.hop_s,
        min_window_s=settings.min_window_s,
        batch_size=settings.batch_size,
        threads=settings.threads or None,
    )
    defn = {**definition(encoder), "dtype": settings.dtype}
    writer = FeatureWriter(root, dataset, CLAP, defn, store, mode=mode)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending:
        return summary.finish()
    # CLAP reads file units (down-mixed, resampled); no calibration: the model saw no pascals
    spec = AudioSpec(
        channels=media.spec.channels,
        sample_rate=media.spec.sample_rate,
        analysis_rate=None,
        tolerance_s=media.spec.tolerance_s,
        silence_peak=media.spec.silence_peak,
        clip_level=media.spec.clip_level,
        clipped_fraction=media.spec.clipped_fraction,
    )
    writer.provenance = {
        **encoder.provenance,
        "generated_at": generated_at(),
        "code_version": code_version(root),
        "definition": defn,
    }
    bar = Progress(progress, len(pending), f"{dataset} CLAP")
    try:
        return run_feature(
            pending,
            AudioReader(media.root, spec, None),
            ClapAudioEncoder(encoder),
            writer,
            summary,
            batch_units=settings.batch_size,
            checkpoint_every=settings.checkpoint_every,
            skip_missing=skip_missing_media,
            skip_hint=SKIP_HINT,
            progress=bar.advance,
        )
    finally:
        bar.close()
