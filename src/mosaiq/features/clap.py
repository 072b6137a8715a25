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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mosaiq.audio.media import AudioSpec
from mosaiq.errors import MosaiqError
from mosaiq.features.audio import AudioReader, AudioRun, MediaSettings, media_absent
from mosaiq.features.runner import Decoded, Encoder, FeatureRunError, Reader, Summary, Value, todo
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


@dataclass
class ClapParts:
    """The recipe of a CLAP run's reader and encoder (built where it runs: the weights are
    loaded once per worker, never in the client)."""

    media_root: Path
    spec: AudioSpec
    settings: ClapSettings
    config: Any = None  # a transformers ClapConfig instead of ``settings.model`` (random weights)

    @property
    def key(self) -> str:
        config = self.config.to_json_string() if self.config is not None else None
        return repr(("clap", str(self.media_root), self.spec, asdict(self.settings), config))

    def load(self) -> Any:
        from mosaiq.audio.clap import load_clap

        if "torch" not in sys.modules:  # before OpenMP starts: idle threads sleep, not spin
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        s = self.settings
        return load_clap(
            **self._model_args(),
            device=s.device,
            batch_size=s.batch_size,
            threads=s.threads or None,
        )

    def _model_args(self) -> dict[str, Any]:
        """What defines the model and its windows: shared by loading and describing it."""
        s = self.settings
        return {
            "model": self.config if self.config is not None else s.model,
            "pretrained": s.pretrained and self.config is None,
            "checkpoint": s.checkpoint,
            "checkpoint_sha256": s.checkpoint_sha256,
            "seed": s.seed,
            "window_s": s.window_s,
            "hop_s": s.hop_s,
            "min_window_s": s.min_window_s,
        }

    def definition(self) -> dict[str, Any]:
        """The feature definition, from the config and the feature extractor (no weights)."""
        from mosaiq.audio.clap import describe_clap

        return {**describe_clap(**self._model_args()), "dtype": self.settings.dtype}

    def build(self) -> tuple[Reader, Encoder, dict[str, Any]]:
        encoder = self.load()
        reader = AudioReader(self.media_root, self.spec, None)
        return reader, ClapAudioEncoder(encoder), dict(encoder.provenance)


def run_clap(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    skip_missing_media: bool = False,
    progress: bool = True,
    model: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Summary:
    """``model``: a transformers ``ClapConfig`` to use instead of ``clap.model`` (random weights
    from ``clap.seed``; tests and benchmarks). On a Dask cluster with ``scheduler`` or
    ``workers`` (or params.yaml ``compute``), in this process otherwise; either way the feature
    definition comes from the model's config and feature extractor, and the weights are loaded
    only where the clips are encoded."""
    params = load_params(root)
    settings = ClapSettings.from_params(params)
    media = MediaSettings.from_node(root, param(params, f"media.{dataset}"), dataset)
    run = AudioRun.start(root, dataset, params, media, CLAP.name)
    summary, jobs = run.summary, run.jobs
    store = ArrayStore(dataset_dir(root, dataset), CLAP.name, settings.storage, settings.dtype)
    # the definition needs the model's preprocessing: with nothing to do, no model is read
    # and the records are kept as they are (append) or emptied (overwrite)
    records = read_records(root, dataset, CLAP.name)
    done_ids = set(records["clip_id"].astype(str)) if mode == "append" else set()
    if not [j for j in jobs if j.clip_id not in done_ids] or media_absent(media, dataset, summary):
        writer = FeatureWriter(root, dataset, CLAP, {"feature": CLAP.name}, store, mode=mode)
        summary.already = sum(j.clip_id in done_ids for j in jobs)
        writer.start()
        return summary.finish()
    assert media.root is not None
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
    parts = ClapParts(media.root, spec, settings, model)
    defn = parts.definition()
    writer = FeatureWriter(root, dataset, CLAP, defn, store, mode=mode)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending:
        return summary.finish()
    base = {"generated_at": generated_at(), "code_version": code_version(root), "definition": defn}
    return run.compute(
        pending,
        parts,
        writer,
        label="CLAP",
        base_provenance=base,
        batch_units=settings.batch_size,
        checkpoint_every=settings.checkpoint_every,
        skip_missing=skip_missing_media,
        progress=progress,
        scheduler=scheduler,
        workers=workers,
    )
