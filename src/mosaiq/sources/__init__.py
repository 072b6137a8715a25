"""The registry of source datasets: dataset id -> :class:`~mosaiq.sources.base.Source`.

Each adapter module (``mosaiq.sources.isd`` ...) declares everything special about its dataset in
one ``SOURCE``. The registry imports an adapter only when it is asked for, so that importing it
costs nothing and a command that needs one dataset loads one adapter.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
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


def committed(dataset: str) -> bool:
    """``Source.committed`` of ``dataset`` (its licence lets its tables be in git and on the
    public remote), read from the adapter's ``SOURCE = Source(...)`` declaration without importing
    the adapter, which loads pandas: for quick commands such as ``mosaiq info``."""
    if dataset not in SOURCE_MODULES:
        raise MosaiqError(f"unknown dataset {dataset!r}; known: {', '.join(SOURCE_MODULES)}")
    spec = importlib.util.find_spec(SOURCE_MODULES[dataset])
    if spec is None or spec.origin is None:
        raise MosaiqError(f"no adapter module for {dataset}")
    for node in ast.parse(Path(spec.origin).read_text()).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "SOURCE" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for keyword in node.value.keywords:
                if keyword.arg == "committed":
                    return bool(ast.literal_eval(keyword.value))
            return False
    raise MosaiqError(f"{spec.origin}: no `SOURCE = Source(...)` declaration")
