"""``mosaiq features acoustics <DS>``: acoustic indicators of the clips' audio.

The shared audio reader (:mod:`mosaiq.features.audio`) and :class:`IndicatorEncoder` on the
shared runner and writer. Indicators (``acoustics.indicators``: ``fast`` by default, ``isd`` for
every ISD indicator the libraries provide; :mod:`mosaiq.audio.acoustics`) carry ISD's column names
and units and are stored as one JSON object per clip, inline in the record file;
``mosaiq.load_features(DS, "acoustics")`` makes them a table aligned with the clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.audio.calibration import ResolvedCalibration
from mosaiq.audio.media import AudioSpec
from mosaiq.features.audio import AudioReader, AudioRun, MediaSettings, media_absent
from mosaiq.features.runner import Decoded, Encoder, FeatureRunError, Reader, Summary, Value, todo
from mosaiq.features.store import JsonStore, dataset_dir
from mosaiq.features.writer import FeatureSpec, FeatureWriter, code_version, generated_at
from mosaiq.settings import load_params, param

__all__ = ["FeatureRunError", "run_acoustics"]

ACOUSTICS = FeatureSpec("acoustic_indicators", "psychoacoustic_descriptor", "audio")
# indicator objects stay inline in the record file (one CSV, read in one go)
INLINE_BYTES = 1 << 20


class IndicatorEncoder:
    """Calibrated clips -> their acoustic indicators (column -> value; NaN as null)."""

    def __init__(self, indicators: str | Sequence[str]) -> None:
        self.indicators = indicators
        self.seconds: dict[str, float] = {}

    def encode(self, batch: Sequence[Decoded]) -> list[Value]:
        from mosaiq.audio.acoustics import compute_indicators

        out: list[Value] = []
        for d in batch:
            result = compute_indicators(d.inputs, self.indicators)
            for group, s in result.seconds.items():
                self.seconds[group] = self.seconds.get(group, 0.0) + s
            out.append({k: (None if np.isnan(v) else v) for k, v in result.values.items()})
        return out


@dataclass
class AcousticsParts:
    """The recipe of an acoustics run's reader and encoder (built where it runs)."""

    media_root: Path
    spec: AudioSpec
    calibration: ResolvedCalibration
    groups: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"acoustics {self.media_root} {self.spec!r} {self.calibration!r} {self.groups}"

    def build(self) -> tuple[Reader, Encoder, dict[str, Any]]:
        reader = AudioReader(self.media_root, self.spec, self.calibration)
        return reader, IndicatorEncoder(self.groups), {}


def run_acoustics(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    skip_missing_media: bool = False,
    progress: bool = True,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Summary:
    """Compute the indicators; on a Dask cluster with ``scheduler`` or ``workers`` (or
    params.yaml ``compute``), in this process otherwise."""
    from mosaiq.audio import acoustics

    params = load_params(root)
    node = dict(param(params, "acoustics", {}) or {})
    indicators = node.get("indicators", acoustics.DEFAULT_PRESET)
    groups = acoustics.resolve_groups(indicators)
    media = MediaSettings.from_node(root, param(params, f"media.{dataset}"), dataset)
    run = AudioRun.start(root, dataset, params, media, ACOUSTICS.name)
    summary = run.summary
    declared = {"declared": media.calibration.__dict__ if media.calibration else None}
    rate = media.spec.analysis_rate or 0
    defn = acoustics.definition(groups, declared, rate)
    # every value is inline: the folder is no output, so it gets no index
    store = JsonStore(dataset_dir(root, dataset), ACOUSTICS.name, INLINE_BYTES, indexed=False)
    writer = FeatureWriter(root, dataset, ACOUSTICS, defn, store, mode=mode)
    pending = todo(run.jobs, writer.recorded(), limit, summary)
    writer.start()
    if not pending or media_absent(media, dataset, summary):
        return summary.finish()
    assert media.root is not None
    calibration = media.resolved_calibration(dataset)
    base = {
        "libraries": acoustics.libraries(),
        "calibration": calibration.provenance,
        "settings": acoustics.settings_provenance(groups),
        "columns": "ISD names; <name>_left/_right/_mono per channel; plain = max of channels",
        "analysis_rate_hz": rate,
        "generated_at": generated_at(),
        "code_version": code_version(root),
        "definition": defn,
    }
    return run.compute(
        pending,
        AcousticsParts(media.root, media.spec, calibration, groups),
        writer,
        label="acoustics",
        base_provenance=base,
        batch_units=1,
        checkpoint_every=int(node.get("checkpoint_every", 16)),
        skip_missing=skip_missing_media,
        progress=progress,
        scheduler=scheduler,
        workers=workers,
    )
