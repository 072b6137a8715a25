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

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mosaiq.audio.calibration import Calibration, ResolvedCalibration
from mosaiq.audio.media import AudioSpec, MediaError, load_clip_audio
from mosaiq.errors import MosaiqError
from mosaiq.features.distributed import Compute, Parts, run_parts
from mosaiq.features.frames import AssetError
from mosaiq.features.runner import Decoded, Job, Progress, Summary, jobs_of
from mosaiq.settings import load_params, param

if TYPE_CHECKING:
    from mosaiq.features.writer import FeatureWriter

SKIP_HINT = "--skip-missing-media skips clips whose audio cannot be used"


@dataclass(frozen=True)
class MediaSettings:
    """``media.<DS>``: where the audio is, what it must be, how it maps to pascals."""

    root: Path | None
    spec: AudioSpec
    calibration: Calibration | None

    @classmethod
    def from_node(cls, root: Path, node: dict[str, Any] | None, dataset: str) -> MediaSettings:
        """From ``param(params, "media.<DS>")`` (read by the command's module)."""
        node = dict(node or {})
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


@dataclass
class AudioSummary(Summary):
    """A run's summary, saying so when the media root is not there (nothing computed)."""

    note: str = ""

    def lines(self) -> list[str]:
        return super().lines() + ([f"  {self.note}"] if self.note else [])


def media_absent(media: MediaSettings, dataset: str, summary: AudioSummary) -> bool:
    if media.root is not None and media.root.is_dir():
        return False
    where = media.root or f"media.{dataset}.root (not set)"
    summary.note = (
        f"no media: {where} is not there; {summary.total - summary.no_asset} clips need their "
        f"audio (see `mosaiq fetch {dataset} --media` and `mosaiq media {dataset}`)"
    )
    return True


def audio_jobs(root: Path, dataset: str, summary: Summary) -> list[Job]:
    from mosaiq.api import load

    clips = load(dataset, "clips", root=root, built_only=False)
    jobs = jobs_of(clips, "audio_asset")
    summary.total, summary.no_asset = len(clips), len(clips) - len(jobs)
    return jobs


@dataclass
class AudioRun:
    """What every audio feature run starts from (``media.<DS>``, read by the command's module;
    its summary; the clips linked to audio) and how it computes (:meth:`compute`)."""

    dataset: str
    params: dict[str, Any]
    media: MediaSettings
    summary: AudioSummary
    jobs: list[Job]

    @classmethod
    def start(
        cls, root: Path, dataset: str, params: dict[str, Any], media: MediaSettings, feature: str
    ) -> AudioRun:
        summary = AudioSummary(dataset, feature, media="audio")
        return cls(dataset, params, media, summary, audio_jobs(root, dataset, summary))

    def compute(
        self,
        pending: Sequence[Job],
        parts: Parts,
        writer: FeatureWriter,
        *,
        label: str,
        base_provenance: dict[str, Any],
        batch_units: int,
        checkpoint_every: int,
        skip_missing: bool,
        progress: bool,
        scheduler: str | None,
        workers: int | None,
    ) -> Summary:
        """Run ``parts`` over ``pending`` with a progress bar: on a Dask cluster with
        ``scheduler`` or ``workers`` (or params.yaml ``compute``), in this process otherwise."""
        compute = Compute.from_params(self.params, scheduler=scheduler, workers=workers)
        bar = Progress(progress, len(pending), f"{self.dataset} {label}")
        try:
            return run_parts(
                pending,
                parts,
                writer,
                self.summary,
                compute,
                base_provenance=base_provenance,
                batch_units=batch_units,
                checkpoint_every=checkpoint_every,
                skip_missing=skip_missing,
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
    media = MediaSettings.from_node(root, param(params, f"media.{dataset}"), dataset)
    clips = load(dataset, "clips", root=root)
    if media.root is None:
        raise MosaiqError(f"params.yaml media.{dataset}.root is not set")
    report = check_media(media.root, clips, media.spec)
    expected = (
        f"expected: {media.spec.channels or 'any'} channels, {media.spec.sample_rate or 'any'} Hz"
    )
    return [f"{dataset} media under {media.root}", *report.lines(), f"  {expected}"]
