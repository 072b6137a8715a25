"""How a dataset's audio files map to sound pressure in pascals: declared, never guessed.

Three declarations (``audio.<DS>.calibration`` in params.yaml):

- ``{kind: pascal}``: the files hold calibrated pressure in pascals (ISD's float WAV files);
- ``{kind: factor, pa_per_unit: 0.5}`` (or one factor per channel, ``[0.5, 0.52]``): pascals per
  decoded unit (full scale 1.0 for fixed-point files);
- ``{kind: reference, file: cal/cal_1kHz_94dB.wav, level_db: 94.0}``: a recording, through the
  same chain, of a calibrator at a known sound pressure level (dB re 20 µPa, RMS): the factor is
  ``20 µPa · 10^(level/20) / RMS(file)``, per channel when the reference has the clips' channels.
  The file is read under the media root, with the same containment rule as the clips.

:meth:`Calibration.resolve` returns the factors and the provenance that every computed value
carries (the declaration, the factors, and the reference file's sha256).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.audio.media import Audio, AudioSpec, read_audio, resolve_audio, with_samples
from mosaiq.errors import MosaiqError
from mosaiq.layout import file_digest as sha256_file

P_REF = 20e-6  # Pa: 0 dB SPL
KINDS = ("pascal", "factor", "reference")


@dataclass(frozen=True)
class Calibration:
    kind: str
    pa_per_unit: tuple[float, ...] = ()
    file: str | None = None
    level_db: float | None = None

    @classmethod
    def from_params(
        cls, node: dict[str, Any] | str | None, *, where: str = "calibration"
    ) -> Calibration:
        if node is None:
            raise MosaiqError(
                f"{where} is not declared: say how the files map to pascals "
                "(kind: pascal | factor | reference)"
            )
        if isinstance(node, str):
            node = {"kind": node}
        node = dict(node)
        kind = node.pop("kind", None)
        if kind not in KINDS:
            raise MosaiqError(f"{where}.kind {kind!r} is not one of {KINDS}")
        if kind == "pascal":
            extra = sorted(node)
            if extra:
                raise MosaiqError(f"{where}: kind pascal takes no other keys ({extra})")
            return cls("pascal")
        if kind == "factor":
            value = node.pop("pa_per_unit", None)
            if node:
                raise MosaiqError(f"{where}: unknown keys {sorted(node)}")
            factors = tuple(float(v) for v in (value if isinstance(value, list) else [value]))
            if not factors or any(not np.isfinite(f) or f <= 0 for f in factors):
                raise MosaiqError(f"{where}.pa_per_unit must be positive numbers, got {value!r}")
            return cls("factor", pa_per_unit=factors)
        file, level = node.pop("file", None), node.pop("level_db", None)
        if node:
            raise MosaiqError(f"{where}: unknown keys {sorted(node)}")
        if not file or level is None:
            raise MosaiqError(f"{where}: kind reference needs file and level_db")
        return cls("reference", file=str(file), level_db=float(level))

    def resolve(
        self, media_root: Path | None = None, spec: AudioSpec | None = None
    ) -> ResolvedCalibration:
        """The factors (pascal per decoded unit, per channel) and their provenance."""
        if self.kind == "pascal":
            return ResolvedCalibration((1.0,), {"kind": "pascal", "pa_per_unit": [1.0]})
        if self.kind == "factor":
            return ResolvedCalibration(
                self.pa_per_unit, {"kind": "factor", "pa_per_unit": list(self.pa_per_unit)}
            )
        if media_root is None:
            raise MosaiqError("a reference calibration needs the media root")
        path = resolve_audio(media_root, str(self.file))
        # the reference may be mono even when the clips are binaural; no window, no resampling
        ref_spec = AudioSpec(
            channels=None,
            sample_rate=spec.sample_rate if spec else None,
            analysis_rate=None,
        )
        ref = read_audio(path, ref_spec, clip_id=f"calibration reference {self.file}")
        rms = np.sqrt(np.mean(ref.samples**2, axis=1))
        target = P_REF * 10 ** (float(self.level_db or 0.0) / 20)
        factors = tuple(float(target / r) for r in rms)
        return ResolvedCalibration(
            factors,
            {
                "kind": "reference",
                "file": str(self.file),
                "sha256": sha256_file(path),
                "level_db": self.level_db,
                "rms_units": [float(r) for r in rms],
                "pa_per_unit": list(factors),
            },
        )


@dataclass(frozen=True)
class ResolvedCalibration:
    pa_per_unit: tuple[float, ...]  # one factor for every channel, or one per channel
    provenance: dict[str, Any]

    def apply(self, audio: Audio) -> Audio:
        """The audio in pascals."""
        if audio.units == "pascal":
            raise MosaiqError(f"{audio.info.path}: already calibrated")
        factors = np.asarray(self.pa_per_unit, dtype=np.float64)
        if factors.size not in (1, audio.channels):
            raise MosaiqError(
                f"{audio.info.path}: calibration has {factors.size} factors for "
                f"{audio.channels} channels"
            )
        samples = audio.samples * factors.reshape(-1, 1)
        return with_samples(audio, samples, units="pascal", calibration=dict(self.provenance))
