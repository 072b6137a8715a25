"""The registry of source datasets: dataset id -> :class:`~mosaiq.sources.base.Source`.

Each adapter module (``mosaiq.sources.isd`` ...) declares everything special about its dataset in
one ``SOURCE``. The registry imports an adapter only when it is asked for, so that importing it
costs nothing and a command that needs one dataset loads one adapter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from mosaiq.errors import MosaiqError
from mosaiq.settings import DATASETS

if TYPE_CHECKING:
    from mosaiq.sources.base import Source

SOURCE_MODULES: dict[str, str] = {ds: f"mosaiq.sources.{ds.lower()}" for ds in DATASETS}
"""The adapter module of each dataset, in catalogue order."""


def source(dataset: str) -> Source:
    """The :class:`~mosaiq.sources.base.Source` of ``dataset`` (ISD, ARAUS, SATP, DeLTA)."""
    if dataset not in SOURCE_MODULES:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(SOURCE_MODULES)}")
    found: Source = importlib.import_module(SOURCE_MODULES[dataset]).SOURCE
    return found
