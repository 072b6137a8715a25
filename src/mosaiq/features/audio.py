"""``mosaiq features acoustics <DS>`` and ``mosaiq features clap <DS>``: audio features.

Both are a reader and an encoder on the shared machinery (``runner.py``, ``writer.py``):

- :class:`AudioReader` resolves a clip's ``audio_asset`` under the dataset's media root
  (``media.<DS>.root``; nothing may leave it), reads and checks its window against the declared
  :class:`~mosaiq.audio.media.AudioSpec` (``media.<DS>.audio``) and converts it to pascals with
  the declared calibration (``media.<DS>.calibration``). A clip's bad audio (missing, truncated,
  silent, clipped, wrong rate, mono where binaural is expected, not audio) is an
  :class:`~mosaiq.features.frames.AssetError` of the media error's kind: listed in the run
  summary, skipped with ``--skip-missing-media``, otherwise the run stops keeping finished work.
- :class:`IndicatorEncoder`: acoustic indicators (``acoustics.indicators``: ``fast`` by default,
  ``isd`` for every ISD indicator the libraries provide) with ISD's column names and units, as a
  JSON object per clip (``feature_value_json``, inline): ``mosaiq.load_features(DS,
  "acoustics")`` makes them a table aligned with the clips.
- :class:`ClapAudioEncoder`: pooled CLAP embeddings (``clap.*``), stored as arrays like CLIP's.

With no clip linked to audio, nothing is recorded and no model is loaded.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.audio.calibration import Calibration, ResolvedCalibration
from mosaiq.audio.media import AudioSpec, MediaError, load_clip_audio
from mosaiq.errors import MosaiqError
from mosaiq.features.frames import AssetError
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
from mosaiq.features.store import ArrayStore, JsonStore, dataset_dir
from mosaiq.features.writer import (
    FeatureSpec,
    FeatureWriter,
    code_version,
    generated_at,
)
from mosaiq.settings import load_params, param

__all__ = ["FeatureRunError", "run_acoustics", "run_clap"]

ACOUSTICS = FeatureSpec("acoustic_indicators", "acoustic_indicators", "audio")
CLAP = FeatureSpec("clap_embedding", "audio_clap_embedding", "audio")
SKIP_HINT = "--skip-missing-media skips clips whose audio cannot be used"
# indicator objects stay inline in the record file (one CSV, read in one go)
INLINE_BYTES = 1 << 20


@dataclass(frozen=True)
class MediaSettings:
    """``media.<DS>``: where the audio is, what it must be, how it maps to pascals."""

    root: Path | None
    spec: AudioSpec
    calibration: Calibration | None

    @classmethod
    def from_params(cls, root: Path, params: dict[str, Any], dataset: str) -> MediaSettings:
        node = dict(param(params, f"media.{dataset}", {}) or {})
        value = node.get("root")
        media_root = None
        if value:
            p = Path(str(value)).expanduser()
            media_root = p if p.is_absolute() else root / p
        spec = AudioSpec.from_params(node.get("audio"))
        cal = node.get("calibration")
        calibration = (
            Calibration.from_params(cal, where=f"media.{dataset}.calibration") if cal else None
        )
        return cls(media_root, spec, calibration)

    def resolved_calibration(self, dataset: str) -> ResolvedCalibration:
        if self.calibration is None:
            raise MosaiqError(
                f"params.yaml media.{dataset}.calibration is not declared: say how the files "
                "map to pascals (kind: pascal | factor | reference)"
            )
        return self.calibration.resolve(self.root, self.spec)


class AudioReader:
    """Job -> the clip's checked window (pascals when a calibration is given)."""

    def __init__(
        self, media_root: Path, spec: AudioSpec, calibration: ResolvedCalibration | None
    ) -> None:
        self.media_root, self.spec, self.calibration = media_root, spec, calibration

    def __call__(self, job: Job) -> Decoded:
        try:
            audio = load_clip_audio(
                self.media_root,
                job.asset or "",
                self.spec,
                clip_id=job.clip_id,
                start_s=job.start_s,
                end_s=job.end_s,
                calibration=self.calibration,
            )
        except MediaError as exc:
            raise AssetError(str(exc), kind=_runner_kind(exc.kind)) from exc
        return Decoded(
            job.clip_id,
            audio,
            fields={"n_frames": audio.channels},
            provenance={
                "window_s": [round(audio.start_s, 6), round(audio.end_s, 6)],
                "file_rate_hz": audio.info.rate,
                "channels": audio.channels,
            },
        )


def _runner_kind(kind: str) -> str:
    """The runner stops at ``refused``; it skips every other kind when asked. The media kind
    stays in the message (``missing: ...``, ``clipped: ...``)."""
    return "refused" if kind == "refused" else kind


class IndicatorEncoder:
    """Calibrated clips -> their acoustic indicators (column -> value; NaN as null)."""

    def __init__(self, indicators: str | Sequence[str]) -> None:
        self.indicators = indicators
        self.seconds: dict[str, float] = {}

    def encode(self, batch: Sequence[Decoded]) -> list[dict[str, Any]]:
        from mosaiq.audio.acoustics import compute_indicators

        out = []
        for d in batch:
            result = compute_indicators(d.inputs, self.indicators)
            for group, s in result.seconds.items():
                self.seconds[group] = self.seconds.get(group, 0.0) + s
            out.append({k: (None if np.isnan(v) else v) for k, v in result.values.items()})
        return out


class ClapAudioEncoder:
    """Clips -> one pooled, L2-normalised CLAP embedding each."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def encode(self, batch: Sequence[Decoded]) -> list[np.ndarray]:
        z = self.model.embed([(d.inputs.samples, d.inputs.rate) for d in batch])
        return list(z)


@dataclass
class AudioSummary(Summary):
    """A run's summary, saying so when the media root is not there (nothing computed)."""

    note: str = ""

    def lines(self) -> list[str]:
        return super().lines() + ([f"  {self.note}"] if self.note else [])


def _media_absent(media: MediaSettings, dataset: str, summary: AudioSummary) -> bool:
    if media.root is not None and media.root.is_dir():
        return False
    where = media.root or f"media.{dataset}.root (not set)"
    summary.note = (
        f"no media: {where} is not there; {summary.total - summary.no_asset} clips need their "
        f"audio (see `mosaiq fetch {dataset} --media` and `mosaiq media {dataset}`)"
    )
    return True


def _jobs(root: Path, dataset: str, summary: Summary) -> list[Job]:
    from mosaiq.api import load

    clips = load(dataset, "clips", root=root)
    jobs = jobs_of(clips, "audio_asset")
    summary.total, summary.no_asset = len(clips), len(clips) - len(jobs)
    return jobs


def run_acoustics(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    skip_missing_media: bool = False,
    progress: bool = True,
) -> Summary:
    from mosaiq.audio import acoustics

    params = load_params(root)
    node = dict(param(params, "acoustics", {}) or {})
    indicators = node.get("indicators", acoustics.DEFAULT_PRESET)
    groups = acoustics.resolve_groups(indicators)
    media = MediaSettings.from_params(root, params, dataset)
    summary = AudioSummary(dataset, ACOUSTICS.name, media="audio")
    jobs = _jobs(root, dataset, summary)
    declared = {"declared": media.calibration.__dict__ if media.calibration else None}
    rate = media.spec.analysis_rate or 0
    defn = acoustics.definition(groups, declared, rate)
    store = JsonStore(dataset_dir(root, dataset), ACOUSTICS.name, INLINE_BYTES)
    writer = FeatureWriter(root, dataset, ACOUSTICS, defn, store, mode=mode)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending or _media_absent(media, dataset, summary):
        return summary.finish()
    assert media.root is not None
    calibration = media.resolved_calibration(dataset)
    writer.provenance = {
        "libraries": acoustics.libraries(),
        "calibration": calibration.provenance,
        "settings": acoustics.settings_provenance(groups),
        "columns": "ISD names; <name>_left/_right/_mono per channel; plain = max of channels",
        "analysis_rate_hz": rate,
        "generated_at": generated_at(),
        "code_version": code_version(root),
        "definition": defn,
    }
    encoder = IndicatorEncoder(groups)
    bar = Progress(progress, len(pending), f"{dataset} acoustics")
    try:
        return run_feature(
            pending,
            AudioReader(media.root, media.spec, calibration),
            encoder,
            writer,
            summary,
            batch_units=1,
            checkpoint_every=int(node.get("checkpoint_every", 16)),
            skip_missing=skip_missing_media,
            skip_hint=SKIP_HINT,
            progress=bar.advance,
        )
    finally:
        bar.close()


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
    media = MediaSettings.from_params(root, params, dataset)
    summary = AudioSummary(dataset, CLAP.name, media="audio")
    jobs = _jobs(root, dataset, summary)
    store = ArrayStore(dataset_dir(root, dataset), CLAP.name, settings.storage, settings.dtype)
    # the definition needs the loaded model's preprocessing: with nothing to do, none is loaded
    # and the records are kept as they are (append) or emptied (overwrite)
    from mosaiq.features.store import read_records

    records = read_records(root, dataset, CLAP.name)
    done_ids = set(records["clip_id"].astype(str)) if mode == "append" else set()
    if not [j for j in jobs if j.clip_id not in done_ids] or _media_absent(media, dataset, summary):
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


def media_report(root: Path, dataset: str) -> list[str]:
    """``mosaiq media <DS>``: which clips resolve to a usable audio file (headers only)."""
    from mosaiq.api import load
    from mosaiq.audio.media import check_media

    params = load_params(root)
    media = MediaSettings.from_params(root, params, dataset)
    clips = load(dataset, "clips", root=root)
    if media.root is None:
        raise MosaiqError(f"params.yaml media.{dataset}.root is not set")
    report = check_media(media.root, clips, media.spec)
    expected = (
        f"expected: {media.spec.channels or 'any'} channels, {media.spec.sample_rate or 'any'} Hz"
    )
    return [f"{dataset} media under {media.root}", *report.lines(), f"  {expected}"]
