"""Benchmark: reading MOSAIQ's Croissant metadata with mlcroissant, record set by record set.

Usage (from the repository root, after `dvc repro` has written exports/croissant.json):

    uv run --all-extras --all-groups python benchmarks/croissant.py [--path exports/croissant.json]

Prints the time to load and validate the metadata (``mlcroissant.Dataset``), then per record set
the rows read and the seconds to read them all. Empty tables are not advertised as record sets
(an empty record set took 26 s to read before); the names of the empty tables are listed.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=Path("exports/croissant.json"))
    args = parser.parse_args()
    import mlcroissant as mlc

    meta = json.loads(args.path.read_text())
    print(f"datePublished: {meta.get('datePublished')}")
    started = time.perf_counter()
    dataset = mlc.Dataset(jsonld=str(args.path))
    print(f"load and validate: {time.perf_counter() - started:.2f} s")
    for record_set in meta["recordSet"]:
        name = record_set["@id"]
        started = time.perf_counter()
        rows = sum(1 for _ in dataset.records(record_set=name))
        print(f"{name}: {rows:,} rows in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
