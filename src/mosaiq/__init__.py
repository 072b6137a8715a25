"""MOSAIQ: a standardised multimodal benchmark for soundscape AI research.

``mosaiq.load("ISD", "clips")`` returns a table of a built package as a DataFrame typed by its
schema; ``mosaiq.load_features("ISD", "acoustics")`` computed features aligned with the clips;
``mosaiq.load_all("clips")`` stacks the built datasets on their shared columns;
``mosaiq.load_task("isd_iso", split="train")`` returns a benchmark task's inputs and targets.
Heavy libraries (pandas, torch) are imported only when a function that needs them is called.
"""

from __future__ import annotations

from importlib import import_module

from mosaiq._version import __version__

# `typing` costs about as much as the rest of `mosaiq --help`: only type checkers import it here
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# public name -> the module that defines it (imported on first use)
_API = {
    "load": "mosaiq.api",
    "load_all": "mosaiq.api",
    "built_datasets": "mosaiq.api",
    "load_features": "mosaiq.features.load",
    "load_task": "mosaiq.benchmark.tasks",
    "plot": "mosaiq.plotting",
    "MosaiqError": "mosaiq.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'mosaiq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
