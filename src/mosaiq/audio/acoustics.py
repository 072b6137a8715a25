"""Acoustic indicators of calibrated audio, with ISD's column names and units.

The computations are the field's libraries, called through soundscapy's audio module
(``soundscapy.audio.metrics``: acoustic-toolbox for levels, MoSQITo for psychoacoustics), with
soundscapy's default analysis settings; nothing psychoacoustic is implemented here. What this
module adds is the ISD vocabulary, the channel rule, sharing of expensive passes, timing and
provenance.

Groups of indicators (the ``acoustics.indicators`` setting is a preset name or a list of groups):

========================  ===================================================  ==================
group                     columns (ISD names)                                   cost (3 s, 1 ch)
========================  ===================================================  ==================
``levels``                ``LZeq_dB`` ... ``LA95_dBA``: Leq over the window,    milliseconds
                          min/max/L5..L95 of 125 ms Leq (acoustic-toolbox),
                          Z, C and A weighting
``loudness_stationary``   ``Nstat_sone``: ISO 532-1 stationary loudness          ~0.1 s
                          (MoSQITo ``loudness_zwst``, free field); **not an
                          ISD column**
``loudness``              ``N5_sone``, ``Nmin_sone``, ``Nmax_sone``,             ~2x real time
                          ``N10..N95_sone`` (ISO 532-1 time-varying, MoSQITo
                          ``loudness_zwtv``, free field) and ``S_acum``,
                          ``Smin/Smax/S5..S95_acum`` (DIN 45692 sharpness
                          from that same loudness pass)
``roughness``             ``R_asper``, ``Rmin/Rmax/R5..R95_asper`` (Daniel &    ~2x real time
                          Weber, MoSQITo ``roughness_dw``)
========================  ===================================================  ==================

Presets: ``levels``; ``fast`` (default: ``levels`` + ``loudness_stationary``); ``isd`` (every
group: the ISD indicators the libraries provide).

Percentiles follow ISD: ``X5`` is the value exceeded 5 % of the time (the 95th percentile of the
time series). ``S_acum`` and ``R_asper`` (ISD's "overall value") are the time means, as in
soundscapy. Not computed, because none of the libraries provides them: tonality after Sottek
(``T_*_tuHMS``; MoSQITo 1.2 has only the ECMA-74 tone-to-noise and prominence ratios, another
quantity), fluctuation strength (``F_*_vacil``), impulsiveness (``I_*_iu``), speech interference
level (``SIL_*``), relative approach (``RA*``) and THD; see :data:`NOT_PROVIDED`.

Channels: every indicator is computed per channel (``<name>_left``, ``<name>_right``; a mono
file gives ``<name>_mono``) and, under the plain ISD name, as the maximum of the channels, which
is ISD's ``_Max`` convention (each value the larger of the two ears, taken value by value).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mosaiq.audio.media import Audio
from mosaiq.errors import MosaiqError

GROUPS = ("levels", "loudness_stationary", "loudness", "roughness")
PRESETS: dict[str, tuple[str, ...]] = {
    "levels": ("levels",),
    "fast": ("levels", "loudness_stationary"),
    "isd": GROUPS,
}
DEFAULT_PRESET = "fast"

# soundscapy's statistics, as it names them, and the ISD suffix of each
STATISTICS: tuple[int | str, ...] = ("avg", "min", "max", 5, 10, 50, 90, 95)
LEVEL_SETTINGS = {"time": 0.125, "method": "average"}  # soundscapy's defaults
FIELD_TYPE = "free"
SHARPNESS_WEIGHTING = "din"
ROUGHNESS_OVERLAP = 0.5

# level blocks: (soundscapy label, ISD symbol, ISD unit)
_LEVEL_BLOCKS = (("LZeq", "LZ", "dB"), ("LCeq", "LC", "dBC"), ("LAeq", "LA", "dBA"))

NOT_PROVIDED = {
    "T_tuHMS": "tonality (Hearing Model of Sottek): not in MoSQITo 1.2 / acoustic-toolbox",
    "F_vacil": "fluctuation strength: not in MoSQITo 1.2 / acoustic-toolbox",
    "I_iu": "impulsiveness: not in MoSQITo 1.2 / acoustic-toolbox",
    "SIL_rms_dB": "speech interference level (ArtemiS definition): not in the libraries",
    "RA": "relative approach (ArtemiS): not in the libraries",
    "THD": "total harmonic distortion (ArtemiS): not in the libraries",
}


def _stat_name(symbol: str, unit: str, stat: int | str, overall: str) -> str:
    suffix = overall if stat == "avg" else str(stat)
    return f"{symbol}{suffix}_{unit}"


def _group_map(group: str) -> list[tuple[str, str]]:
    """(soundscapy key, ISD column) pairs of a group, in ISD column order."""
    if group == "levels":
        out = []
        for label, symbol, unit in _LEVEL_BLOCKS:
            for stat in STATISTICS:
                key = label if stat == "avg" else f"{label}_{stat}"
                out.append((key, _stat_name(symbol, unit, stat, "eq")))
        return out
    if group == "loudness_stationary":
        return [("Nstat", "Nstat_sone")]
    if group == "loudness":
        # ISD publishes no overall loudness: N5 is its main value
        n_stats = (5, "min", "max", 10, 50, 90, 95)  # ISD's order: N5 leads the block
        n = [(f"N_{s}", _stat_name("N", "sone", s, "")) for s in n_stats]
        s_ = [(f"S_{s}", _stat_name("S", "acum", s, "")) for s in STATISTICS]
        return n + s_
    if group == "roughness":
        return [(f"R_{s}", _stat_name("R", "asper", s, "")) for s in STATISTICS]
    raise MosaiqError(f"unknown indicator group {group!r}; known: {', '.join(GROUPS)}")


def resolve_groups(indicators: str | Sequence[str] | None) -> tuple[str, ...]:
    """A preset name or a list of groups -> the groups, in canonical order."""
    if indicators is None:
        indicators = DEFAULT_PRESET
    if isinstance(indicators, str):
        if indicators not in PRESETS:
            raise MosaiqError(
                f"acoustics.indicators {indicators!r} is not a preset ({', '.join(PRESETS)}) "
                "nor a list of groups"
            )
        return PRESETS[indicators]
    unknown = sorted(set(indicators) - set(GROUPS))
    if unknown or not indicators:
        raise MosaiqError(f"acoustics.indicators: unknown groups {unknown}; known: {GROUPS}")
    return tuple(g for g in GROUPS if g in indicators)


def channel_names(channels: int) -> tuple[str, ...]:
    if channels == 1:
        return ("mono",)
    if channels == 2:
        return ("left", "right")
    return tuple(f"ch{i + 1}" for i in range(channels))


def columns(groups: Sequence[str], channels: int = 2) -> list[str]:
    """The output columns: ISD names (maximum of the channels), then each channel's."""
    names = [isd for g in groups for _k, isd in _group_map(g)]
    return names + [f"{n}_{ch}" for ch in channel_names(channels) for n in names]


def isd_columns(groups: Sequence[str]) -> list[str]:
    return [isd for g in groups for _k, isd in _group_map(g)]


@dataclass
class IndicatorResult:
    values: dict[str, float]  # column -> value, in :func:`columns` order
    seconds: dict[str, float]  # group -> CPU-side wall seconds, all channels
    provenance: dict[str, Any] = field(default_factory=dict)


def _signal(x: np.ndarray, rate: int) -> Any:
    from acoustic_toolbox import Signal

    return Signal(np.ascontiguousarray(x, dtype=np.float64), rate)


def _group_values(group: str, s: Any) -> dict[str, float]:
    """soundscapy keys -> values of one group on one channel (one pass per group)."""
    from mosaiq.extras import require

    require("Acoustic indicators", "mosqito", "acoustic_toolbox")
    from soundscapy.audio.metrics import _stat_calcs, mosqito_metric_1ch

    out: dict[str, Any] = {}
    if group == "levels":
        # soundscapy's acoustics_metric_1ch, with the weighting filter run once instead of twice
        # (it weighs the signal for the Leq and again for the level series); the statistics are
        # soundscapy's own (_stat_calcs, soundscapy pinned to 0.8.5)
        for label, _symbol, _unit in _LEVEL_BLOCKS:
            weighted = s.weigh(label[1])  # LZeq -> "Z", LCeq -> "C", LAeq -> "A"
            out[label] = weighted.leq()
            with warnings.catch_warnings():
                # Signal.levels is deprecated in acoustic-toolbox; soundscapy 0.8.5 still uses it
                warnings.simplefilter("ignore", DeprecationWarning)
                series = weighted.levels(**LEVEL_SETTINGS)[1]
            _stat_calcs(label, series, out, tuple(x for x in STATISTICS if x != "avg"))
    elif group == "loudness_stationary":
        from mosqito.sq_metrics import loudness_zwst

        n, _spec, _bark = loudness_zwst(np.asarray(s), s.fs, field_type=FIELD_TYPE)
        out["Nstat"] = float(n)
    elif group == "loudness":
        # one time-varying loudness pass gives N and, from its specific loudness, S
        out.update(
            mosqito_metric_1ch(
                s,
                "sharpness_din_from_loudness",
                STATISTICS,
                "S",
                field_type=FIELD_TYPE,
                weighting=SHARPNESS_WEIGHTING,
            )
        )
    elif group == "roughness":
        out.update(
            mosqito_metric_1ch(s, "roughness_dw", STATISTICS, "R", overlap=ROUGHNESS_OVERLAP)
        )
    return {k: float(v) for k, v in out.items()}


@functools.cache
def _versions() -> tuple[tuple[str, str], ...]:
    from importlib.metadata import version

    names = ("soundscapy", "mosqito", "acoustic-toolbox", "numpy", "scipy", "av")
    return tuple((lib, version(lib)) for lib in names)


def libraries() -> dict[str, str]:
    return dict(_versions())


def settings_provenance(groups: Sequence[str]) -> dict[str, Any]:
    """The settings that change the numbers (part of a feature definition)."""
    return {
        "groups": list(groups),
        "statistics": [str(s) for s in STATISTICS],
        "percentiles": "Lx/Nx/Sx/Rx: value exceeded x % of the time",
        "channel_rule": "plain names: maximum of the channels, value by value (ISD _Max)",
        "levels": {**LEVEL_SETTINGS, "overall": "Leq of the whole window"},
        "loudness": {"method": "ISO 532-1 (MoSQITo)", "field_type": FIELD_TYPE},
        "sharpness": {
            "method": "DIN 45692 from time-varying loudness",
            "weighting": SHARPNESS_WEIGHTING,
        },
        "roughness": {
            "method": "Daniel & Weber (MoSQITo roughness_dw)",
            "overlap": ROUGHNESS_OVERLAP,
        },
    }


def compute_indicators(
    audio: Audio, indicators: str | Sequence[str] | None = None
) -> IndicatorResult:
    """The indicators of one calibrated clip (samples in pascals)."""
    if audio.units != "pascal":
        raise MosaiqError(
            f"{audio.info.path}: acoustic indicators need calibrated audio (pascals); "
            "apply the dataset's calibration first"
        )
    groups = resolve_groups(indicators)
    names = channel_names(audio.channels)
    per_channel: list[dict[str, float]] = []
    seconds = dict.fromkeys(groups, 0.0)
    for ch in range(audio.channels):
        s = _signal(audio.samples[ch], audio.rate)
        row: dict[str, float] = {}
        for group in groups:
            t0 = time.perf_counter()
            got = _group_values(group, s)
            seconds[group] += time.perf_counter() - t0
            for key, isd in _group_map(group):
                row[isd] = got.get(key, float("nan"))
        per_channel.append(row)
    values: dict[str, float] = {}
    for name in isd_columns(groups):
        values[name] = float(np.max([r[name] for r in per_channel]))
    for ch_name, row in zip(names, per_channel, strict=True):
        for name in isd_columns(groups):
            values[f"{name}_{ch_name}"] = row[name]
    provenance = {
        "libraries": libraries(),
        "calibration": dict(audio.calibration),
        "settings": settings_provenance(groups),
        "analysis_rate_hz": audio.rate,
        "file_rate_hz": audio.info.rate,
        "window_s": [audio.start_s, audio.end_s],
        "channels": list(names),
    }
    return IndicatorResult(values, seconds, provenance)


def definition(
    indicators: str | Sequence[str] | None, calibration: dict[str, Any], analysis_rate: int
) -> dict[str, Any]:
    """The settings that change the numbers (hashed into a feature's definition id): groups and
    their settings, library versions, the calibration and the analysis rate."""
    return {
        "feature": "acoustic_indicators",
        **settings_provenance(resolve_groups(indicators)),
        "libraries": {k: v for k, v in libraries().items() if k != "av"},
        "calibration": calibration,
        "analysis_rate_hz": analysis_rate,
    }


def as_vector(result: IndicatorResult, names: Sequence[str]) -> np.ndarray:
    """The values in the order of ``names`` (see :func:`columns`), float64; NaN where absent."""
    return np.array([result.values.get(n, float("nan")) for n in names], dtype=np.float64)
