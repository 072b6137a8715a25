"""PAQ vocabulary, rating scales and ISO/TS 12913-3 circumplex coordinates.

The eight perceived affective quality (PAQ) items of ISO/TS 12913-2 are stored in circumplex
order (PAQ1 pleasant at 0 degrees ... PAQ8 calm at 315 degrees). Every dataset maps its own column
names onto :data:`PAQ_IDS`; nothing else in the project knows a dataset's spelling.

Coordinates use the general projection

    P = sum cos(theta_i) (x_i - m) / ((R/2) sum |cos(theta_i)|)
    E = sum sin(theta_i) (x_i - m) / ((R/2) sum |sin(theta_i)|)

with scale range R and centre m. With the equal angles (0, 45, ..., 315) the cosines and sines
each sum to zero, the centre cancels, and this is exactly the ISO/TS 12913-3 formula. With
language-specific angles it does not cancel, and the centre is a choice (``centring``):

- ``scale_midpoint`` (the default): m is the scale midpoint. The projection stays linear, so the
  coordinates of a mean of responses are the mean of their coordinates (what ARAUS's pre-averaged
  test means need), but a respondent's overall rating level moves the coordinates by
  ``d / (R/2) * sum(cos_w)`` for a shift ``d`` of every item (up to 0.2 on ISOPleasant in tur, nld,
  ita; see :func:`elevation_effect`).
- ``row_mean`` (ipsatised): m is the mean of the row's own eight ratings, so a uniform shift of
  every item leaves the coordinates unchanged; the projection is no longer a fixed linear map of
  the ratings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported lazily so that `mosaiq --help` stays light
    import numpy as np

PAQ_ITEMS: tuple[str, ...] = (
    "pleasant",
    "vibrant",
    "eventful",
    "chaotic",
    "annoying",
    "monotonous",
    "uneventful",
    "calm",
)
"""The PAQ attributes in circumplex order (PAQ1 ... PAQ8)."""

PAQ_IDS: tuple[str, ...] = tuple(f"PAQ{i}_{name}" for i, name in enumerate(PAQ_ITEMS, 1))
"""Response-level column names: PAQ1_pleasant ... PAQ8_calm."""

PAQ_FROM_WORDS: dict[str, str] = dict(zip(PAQ_ITEMS, PAQ_IDS, strict=True))
"""The plain-word column names several sources use (pleasant, vibrant, ...) -> PAQ_IDS."""

EQUAL_ANGLES: tuple[int, ...] = (0, 45, 90, 135, 180, 225, 270, 315)

CENTRINGS: tuple[str, ...] = ("scale_midpoint", "row_mean")
"""How the language-angle projection centres a row (``build.harmonise.centring``)."""

# Aletta et al. (2024), Applied Acoustics 224:110109: the 12 languages whose translations passed
# validation. Identical to soundscapy's LANGUAGE_ANGLES table.
_ALETTA_2024: dict[str, tuple[int, ...]] = {
    "arb": (0, 36, 45, 135, 167, 201, 242, 308),
    "cmn": (0, 18, 38, 154, 171, 196, 217, 318),
    "deu": (0, 64, 97, 132, 182, 254, 282, 336),
    "ell": (0, 72, 86, 133, 161, 233, 267, 328),
    "eng": (0, 46, 94, 138, 177, 241, 275, 340),
    "hrv": (0, 84, 93, 160, 173, 243, 273, 354),
    "ind": (0, 53, 104, 123, 139, 202, 284, 308),
    "ita": (0, 57, 104, 143, 170, 274, 285, 336),
    "nld": (0, 43, 111, 125, 174, 257, 307, 341),
    "spa": (0, 41, 103, 147, 174, 238, 279, 332),
    "swe": (0, 66, 87, 146, 175, 249, 275, 335),
    "tur": (0, 55, 97, 106, 157, 254, 289, 313),
}

ANGLE_TABLES: dict[str, dict[str, tuple[int, ...]]] = {
    # The published table of Aletta et al. (2024), as shipped by soundscapy.
    "aletta2024": _ALETTA_2024,
    # The SEM output published with the SATP validation. It differs from the paper's table in two
    # cells (eng PAQ6 = 231 instead of 241, ita PAQ4 = 142 instead of 143).
    "satp_sem": {
        **_ALETTA_2024,
        "eng": (0, 46, 94, 138, 177, 231, 275, 340),
        "ita": (0, 57, 104, 142, 170, 274, 285, 336),
    },
}
"""Language-angle tables by name; params.yaml (``build.harmonise.angle_table``) chooses one."""

EQUAL = "equal"
"""The ``angle_set`` value of a row whose language has no validated angles."""


@dataclass(frozen=True)
class Scale:
    """A rating scale: its bounds define the range R and the midpoint m of the projection."""

    minimum: float
    maximum: float

    @property
    def range(self) -> float:
        return self.maximum - self.minimum

    @property
    def midpoint(self) -> float:
        return (self.minimum + self.maximum) / 2

    def __str__(self) -> str:
        return f"{self.minimum:g}-{self.maximum:g}"


LIKERT_5 = Scale(1, 5)
SLIDER_100 = Scale(0, 100)


def _exact_cos_sin(degrees: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact (0, +-1) on multiples of 90 degrees.

    ``math.cos(math.radians(90))`` is 6e-17, not 0; snapping keeps the equal-angle projection
    identical to the closed ISO formula instead of merely close to it.
    """
    quarter, rest = divmod(degrees % 360, 90)
    if rest == 0:
        return ((1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0))[int(quarter)]
    rad = math.radians(degrees)
    return math.cos(rad), math.sin(rad)


def projection_weights(angles: Sequence[float]) -> tuple[list[float], list[float]]:
    """Cosine and sine weights of the eight items, normalised by sum |cos| and sum |sin|."""
    if len(angles) != len(PAQ_IDS):
        raise ValueError(f"expected {len(PAQ_IDS)} angles, got {len(angles)}")
    cs = [_exact_cos_sin(a) for a in angles]
    cos = [c for c, _ in cs]
    sin = [s for _, s in cs]
    sum_cos = sum(abs(c) for c in cos)
    sum_sin = sum(abs(s) for s in sin)
    return [c / sum_cos for c in cos], [s / sum_sin for s in sin]


def iso_coordinates(
    paq: np.ndarray,
    scale: Scale,
    angles: Sequence[float] | np.ndarray = EQUAL_ANGLES,
    centring: str = "scale_midpoint",
    sets: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ISOPleasant and ISOEventful of each row of ``paq`` (n x 8, circumplex order).

    ``angles`` is one set of eight angles for every row, or an (n x 8) array with one set per row,
    or, with ``sets`` (each row's index into it), a (k x 8) array of the distinct sets.
    ``centring`` is ``scale_midpoint`` or ``row_mean`` (see the module docstring).
    A row with any missing item gets NaN for both coordinates: never 0, never a partial sum.
    """
    import numpy as np

    if centring not in CENTRINGS:
        raise ValueError(f"unknown centring {centring!r}; one of {', '.join(CENTRINGS)}")
    x = np.asarray(paq, dtype=float)
    if x.ndim != 2 or x.shape[1] != len(PAQ_IDS):
        raise ValueError(f"PAQ array must be (n, 8), got {x.shape}")
    a = np.asarray(angles, dtype=float)
    if a.ndim == 1:
        cos_w, sin_w = (np.asarray(w) for w in projection_weights(a.tolist()))
        cos_w = np.broadcast_to(cos_w, x.shape)
        sin_w = np.broadcast_to(sin_w, x.shape)
    elif sets is not None:
        weights = [projection_weights(row.tolist()) for row in a]
        k = (len(weights), len(PAQ_IDS))
        cos_w = np.array([w[0] for w in weights], dtype=float).reshape(k)[sets]
        sin_w = np.array([w[1] for w in weights], dtype=float).reshape(k)[sets]
    else:
        if a.shape != x.shape:
            raise ValueError(f"per-row angles must be {x.shape}, got {a.shape}")
        uniq, inverse = np.unique(a, axis=0, return_inverse=True)
        weights = [projection_weights(row.tolist()) for row in uniq]
        cos_w = np.array([w[0] for w in weights])[inverse.reshape(-1)]
        sin_w = np.array([w[1] for w in weights])[inverse.reshape(-1)]
    centre = x.mean(axis=1, keepdims=True) if centring == "row_mean" else scale.midpoint
    centred = (x - centre) / (scale.range / 2)
    pleasant = np.einsum("ij,ij->i", centred, cos_w)
    eventful = np.einsum("ij,ij->i", centred, sin_w)
    incomplete = np.isnan(x).any(axis=1)
    pleasant[incomplete] = np.nan
    eventful[incomplete] = np.nan
    return pleasant, eventful


def iso_formula(paq: Sequence[float], scale: Scale = LIKERT_5) -> tuple[float, float]:
    """The closed ISO/TS 12913-3 formula for one response (equal angles), for reference and tests.

    ISOPleasant = [(pl - an) + cos45 (ca - ch) + cos45 (vi - mo)] / (R + R sqrt(2))
    ISOEventful = [(ev - ue) + cos45 (ch - ca) + cos45 (vi - mo)] / (R + R sqrt(2))
    (for R = 4 the denominator is 4 + sqrt(32)).
    """
    pl, vi, ev, ch, an, mo, ue, ca = paq
    c45 = math.cos(math.pi / 4)
    denom = scale.range + math.sqrt(2 * scale.range**2)
    pleasant = ((pl - an) + c45 * (ca - ch) + c45 * (vi - mo)) / denom
    eventful = ((ev - ue) + c45 * (ch - ca) + c45 * (vi - mo)) / denom
    return pleasant, eventful


def angles_for_languages(
    languages: Sequence[str | None], table: str
) -> tuple[np.ndarray, list[str]]:
    """Per-row angles from a named table, and the ``angle_set`` actually used for each row.

    A language without validated angles in the table (fra, jpn, kor, por, vie, zsm, tha, ...)
    falls back to the equal angles, and its ``angle_set`` says so (``"equal"``).
    """
    import numpy as np

    try:
        chosen = ANGLE_TABLES[table]
    except KeyError:
        known = ", ".join(sorted(ANGLE_TABLES))
        raise ValueError(f"unknown angle table {table!r}; known tables: {known}") from None
    angle_sets = [lang if lang in chosen else EQUAL for lang in languages]
    angles = np.array([chosen.get(s, EQUAL_ANGLES) for s in angle_sets], dtype=float)
    return angles.reshape(len(angle_sets), len(PAQ_IDS)), angle_sets


def elevation_effect(angles: Sequence[float]) -> tuple[float, float]:
    """How far ISOPleasant and ISOEventful move, under scale-midpoint centring, when every item
    of a response moves by half the scale range (e.g. all 3s -> all 5s on 1-5): the sums of the
    normalised cosine and sine weights. Zero for the equal angles and under row-mean centring."""
    cos_w, sin_w = projection_weights(angles)
    return sum(cos_w), sum(sin_w)
