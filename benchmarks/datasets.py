"""Benchmark: build time and peak memory per dataset, and validation against a plain pandas read.

Usage (from the repository root; the raw files are the ones params.yaml names, or a folder with
the test tables laid out as in ../shared/data):

    uv run python benchmarks/datasets.py [--shared ../shared/data] [--repeat 3]

Each build runs in its own process, so that its peak resident memory (ru_maxrss) is its own.
Validation is timed on all packages at once (Frictionless + semantic checks, as `mosaiq
validate` runs it) and compared with a plain ``pandas.read_csv`` of the same CSV files in the
same process: the ratio is the cost of validating over merely reading.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = ("ISD", "ARAUS", "SATP", "DeLTA")

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from mosaiq.build import build_dataset
t = time.perf_counter()
r = build_dataset(Path(sys.argv[1]), sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - t, "status": r.status,
                  "rows": r.counts.get("responses", 0),
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tests.conftest import copy_project, point_at_shared_data

    work = Path(tempfile.mkdtemp(prefix="mosaiq-bench-"))
    try:
        root = copy_project(work / "project")
        if args.shared.is_dir():
            point_at_shared_data(root, args.shared.resolve())
        print(
            f"{'dataset':8} {'status':10} {'responses':>10} {'build s (min/median)':>22} "
            f"{'peak RSS MB':>12}"
        )
        for ds in DATASETS:
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(root), ds],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            secs = [r["seconds"] for r in runs]
            print(
                f"{ds:8} {runs[0]['status'][:10]:10} {runs[0]['rows']:>10,} "
                f"{min(secs):>10.2f} / {statistics.median(secs):<9.2f} "
                f"{max(r['maxrss_mb'] for r in runs):>12.0f}"
            )

        import pandas as pd

        from mosaiq.catalogue import build_catalogue
        from mosaiq.validate import validate_all

        build_catalogue(root)
        csvs = [*sorted(root.glob("datasets/*/data/*.csv")), root / "catalogue/data/datasets.csv"]
        read_times, validate_times = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            for path in csvs:
                pd.read_csv(path, low_memory=False)
            read_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            report = validate_all(root)
            validate_times.append(time.perf_counter() - t)
        cells = sum(
            len(pd.read_csv(p, low_memory=False)) * len(pd.read_csv(p, nrows=0).columns)
            for p in csvs
        )
        read_s, val_s = min(read_times), min(validate_times)
        print(
            f"\nvalidation of all packages ({cells:,} cells): {val_s:.2f} s "
            f"(valid: {report.valid}); plain pandas read: {read_s:.3f} s; "
            f"ratio {val_s / read_s:.0f}x"
        )
        print(
            f"peak RSS of this process: "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
