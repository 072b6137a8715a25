"""MOSAIQ: a standardised multimodal benchmark for soundscape AI research.

``mosaiq.load("ISD", "clips")`` returns a table of a built package as a DataFrame typed by its
schema; ``mosaiq.load_features("ISD", "acoustics")`` computed features aligned with the clips;
``mosaiq.load_all("clips")`` stacks the built datasets on their shared columns;
``mosaiq.load_task("isd_iso", split="train")`` returns a benchmark task's inputs and targets.
Heavy libraries (pandas, torch) are imported only when a function that needs them is called.
"""

from mosaiq._version import __version__

__all__ = ["__version__", "load", "load_all", "load_features", "load_task"]


def __getattr__(name: str):
    if name in ("load", "load_all"):
        from mosaiq import api

        return getattr(api, name)
    if name == "load_features":
        from mosaiq.features.load import load_features

        return load_features
    if name == "load_task":
        from mosaiq.benchmark.tasks import load_task

        return load_task
    raise AttributeError(f"module 'mosaiq' has no attribute {name!r}")
