"""The optional feature stack: what needs it says how to install it.

The package's core (tables, schemas, validation, DVC, CLI, tabular baselines, Datasette) installs
without it. Torch, torchvision, open_clip, PyAV, OpenCV, transformers and soundscapy's audio
metrics are the ``features`` extra, needed only by a feature stage that has media to process.
"""

from __future__ import annotations

from importlib.util import find_spec

from mosaiq.errors import MosaiqError

INSTALL = 'uv sync --extra features  (or: pip install "mosaiq[features]")'


class FeaturesMissing(MosaiqError):
    """A feature computation was asked for without the ``features`` extra installed."""


def missing(*modules: str) -> list[str]:
    """The top-level modules among ``modules`` that cannot be imported."""
    out = []
    for name in modules:
        try:
            found = find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            out.append(name)
    return out


def require(what: str, *modules: str) -> None:
    """Raise FeaturesMissing naming ``what`` and the install command if a module is absent."""
    absent = missing(*modules)
    if absent:
        raise FeaturesMissing(
            f"{what} needs the optional feature stack ({', '.join(absent)} not installed); "
            f"install it with: {INSTALL}"
        )
