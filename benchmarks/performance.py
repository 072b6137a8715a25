"""Benchmark: what runs every time, against a plain baseline measured in the same run.

Usage (from the repository root):

    uv run python benchmarks/performance.py [--shared ../shared/data] [--repeat 3] [--scale 16]

Prints, from one run:

- validation of all four packages and the catalogue (``validate_all``) against a plain
  ``pandas.read_csv`` of the same CSV files, time in one process and peak memory (resident set
  growth over the imports) in two fresh processes; then the same with ARAUS alone at
  ``--scale`` times its rows (its raw rows repeated under new participant and stimulus keys);
- each build (``build_dataset``) against a plain ``pandas.read_csv`` of its raw files in the same
  process (wall time, and CPU time), and its peak memory growth per raw row beside that of the
  plain read alone in a fresh process;
- ``mosaiq --help`` and ``mosaiq --version`` against ``python -c pass`` through the same
  interpreter (median wall time of fresh processes).
"""

from __future__ import annotations

import argparse
import json
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

# Peak resident memory (kB) is the process's high-water mark (VmHWM: ru_maxrss would carry the
# parent's over fork and exec); the baseline is the resident set after the imports, so the
# difference is what the measured work itself held.
_MEM = """
def _status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key))
def rss_kb():
    return _status("VmRSS:")
def peak_kb():
    return _status("VmHWM:")
"""

_BUILD_CHILD = (
    _MEM
    + """
import json, sys, time
from pathlib import Path
import pandas as pd
from mosaiq.build import build_dataset
from mosaiq.sources import source
root, ds, repeat = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
raws = json.loads(sys.argv[4])
source(ds)
base = rss_kb()
times, cpus = [], []
for _ in range(repeat):
    t, c = time.perf_counter(), time.process_time()
    r = build_dataset(root, ds)
    times.append(time.perf_counter() - t)
    cpus.append(time.process_time() - c)
    if not times[1:]:
        grown = peak_kb() - base
reads, read_cpus = [], []
for _ in range(repeat):
    t, c = time.perf_counter(), time.process_time()
    raw_rows = sum(len(pd.read_csv(p, low_memory=False)) for p in raws)
    reads.append(time.perf_counter() - t)
    read_cpus.append(time.process_time() - c)
print(json.dumps({"build_s": min(times), "read_s": min(reads), "build_cpu": min(cpus),
                  "read_cpu": min(read_cpus), "status": r.status,
                  "raw_rows": raw_rows, "grown_kb": grown}))
"""
)

# The same plain read, alone in a fresh process, for its peak memory growth.
_READ_CHILD = (
    _MEM
    + """
import json, sys
import pandas as pd
from mosaiq.build import build_dataset
raws = json.loads(sys.argv[1])
base = rss_kb()
frames = [pd.read_csv(p, low_memory=False) for p in raws]
print(json.dumps({"grown_kb": peak_kb() - base}))
"""
)

_MEMORY_CHILD = (
    _MEM
    + """
import json, sys
from pathlib import Path
import pandas as pd
import mosaiq.validate
from mosaiq.validate import validate_all
root, what = Path(sys.argv[1]), sys.argv[2]
names = json.loads(sys.argv[3])
csvs = json.loads(sys.argv[4])
base = rss_kb()
if what == "read":
    frames = [pd.read_csv(p, low_memory=False) for p in csvs]
else:
    report = validate_all(root, names)
print(json.dumps({"grown_kb": peak_kb() - base}))
"""
)


def _child(code: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _csvs(root: Path, datasets: tuple[str, ...]) -> list[Path]:
    files = [p for ds in datasets for p in sorted((root / "datasets" / ds / "data").glob("*.csv"))]
    return [*files, root / "catalogue" / "data" / "datasets.csv"]


def validation(root: Path, datasets: tuple[str, ...], repeat: int, label: str) -> None:
    import pandas as pd

    from mosaiq.validate import validate_all

    csvs = _csvs(root, datasets)
    reads, checks = [], []
    for _ in range(repeat):
        t = time.perf_counter()
        for path in csvs:
            pd.read_csv(path, low_memory=False)
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        report = validate_all(root, datasets)
        checks.append(time.perf_counter() - t)
    args = (str(root), json.dumps(list(datasets)), json.dumps([str(p) for p in csvs]))
    mem_read = _child(_MEMORY_CHILD, args[0], "read", *args[1:])["grown_kb"]
    mem_val = _child(_MEMORY_CHILD, args[0], "validate", *args[1:])["grown_kb"]
    rows = sum(sum(1 for _ in p.open()) - 1 for p in csvs)
    read_s, val_s = min(reads), min(checks)
    print(
        f"validation {label} ({len(csvs)} files, {rows:,} rows, valid: {report.valid}): "
        f"{val_s:.3f} s vs read {read_s:.3f} s = {val_s / read_s:.2f}x; "
        f"memory {mem_val / 1024:.0f} MB vs read {mem_read / 1024:.0f} MB = "
        f"{mem_val / max(mem_read, 1):.2f}x"
    )


def raw_files(root: Path) -> dict[str, list[str]]:
    from tests.conftest import SHARED_FILES

    from mosaiq.settings import load_params
    from mosaiq.sources.isd import locate_raw

    params = load_params(root)
    out = {"ISD": [str(locate_raw(root, params))]}
    for ds, keys in SHARED_FILES.items():
        out[ds] = [str(params["build"][ds][k]) for k in keys]
    return out


def builds(root: Path, raws: dict[str, list[str]], repeat: int, label: str = "") -> None:
    for ds, files in raws.items():
        r = _child(_BUILD_CHILD, str(root), ds, str(repeat), json.dumps(files))
        read_kb = _child(_READ_CHILD, json.dumps(files))["grown_kb"]
        print(
            f"build {ds}{label} ({r['status']}, {r['raw_rows']:,} raw rows): "
            f"{r['build_s']:.3f} s vs raw read {r['read_s']:.3f} s = "
            f"{r['build_s'] / r['read_s']:.2f}x (CPU {r['build_cpu'] / r['read_cpu']:.2f}x); "
            f"memory {r['grown_kb'] / 1024:.0f} MB = {r['grown_kb'] * 1024 / r['raw_rows']:,.0f} "
            f"bytes per raw row (raw read {read_kb * 1024 / r['raw_rows']:,.0f})"
        )


def scaled_araus(source: Path, target: Path, factor: int) -> Path:
    """ARAUS's raw rows ``factor`` times: copy k > 0 gets new participant and stimulus keys
    (``_r<k>``) and leaves out fold 0 (whose rows are keyed by stimulus alone)."""
    import pandas as pd

    raw = pd.read_csv(source, dtype=str, keep_default_na=False)
    parts = [raw]
    train = raw[raw["fold"] != "0"]
    for k in range(1, factor):
        parts.append(
            train.assign(
                audio_file_id=train["audio_file_id"] + f"_r{k}",
                participant=train["participant"] + f"r{k}",
            )
        )
    pd.concat(parts, ignore_index=True).to_csv(target, index=False)
    return target


def startup(repeat: int) -> None:
    script = Path(sys.executable).parent / "mosaiq"
    cmds = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "mosaiq --help": [sys.executable, str(script), "--help"],
        "mosaiq --version": [sys.executable, str(script), "--version"],
    }
    medians = {}
    for name, cmd in cmds.items():
        times = []
        for _ in range(max(repeat, 15)):
            t = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times.append(time.perf_counter() - t)
        medians[name] = statistics.median(times)
    base = medians["python -c pass"]
    for name, secs in medians.items():
        print(f"start-up {name}: {secs * 1000:.1f} ms = {secs / base:.2f}x python -c pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=int, default=16)
    parser.add_argument("--skip", nargs="*", default=[], choices=["startup", "build", "validate"])
    args = parser.parse_args()

    from tests.conftest import copy_project, point_at_shared_data, set_params

    if "startup" not in args.skip:
        startup(args.repeat)
    work = Path(tempfile.mkdtemp(prefix="mosaiq-perf-"))
    try:
        from mosaiq.build import build_dataset
        from mosaiq.catalogue import build_catalogue

        root = copy_project(work / "project")
        point_at_shared_data(root, args.shared.resolve())
        raws = raw_files(root)
        if "build" not in args.skip:
            builds(root, raws, args.repeat)
        else:
            for ds in DATASETS:
                build_dataset(root, ds)
        build_catalogue(root)
        if "validate" not in args.skip:
            validation(root, DATASETS, args.repeat, "of all packages + catalogue")

        big = copy_project(work / "scaled")
        raw = scaled_araus(Path(raws["ARAUS"][0]), work / "araus_scaled.csv", args.scale)
        from mosaiq.layout import file_digest

        def scaled(p: dict) -> None:
            # another row count than the known version's: declared, as a user would
            p["build"]["ARAUS"]["responses"] = str(raw)
            p["build"]["ARAUS"]["sha256"] = {"responses": file_digest(raw)}

        set_params(big, scaled)
        if "build" not in args.skip:
            builds(big, {"ARAUS": [str(raw)]}, 1, f" x{args.scale}")
        else:
            build_dataset(big, "ARAUS")
        build_catalogue(big)
        if "validate" not in args.skip:
            validation(big, ("ARAUS",), args.repeat, f"of ARAUS x{args.scale} + catalogue")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
