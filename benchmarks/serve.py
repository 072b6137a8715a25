"""Benchmark: building exports/mosaiq.db for the four datasets, and page loads of `mosaiq serve`.

Usage (from the repository root; the test tables laid out as in ../shared/data):

    uv run python benchmarks/serve.py [--shared ../shared/data] [--repeat 3]

The four packages are built from the shared tables in a temporary project (as the tests'
``built_all`` fixture does), with the benchmark splits. Then:

- the database build (``mosaiq.db.build_database``: sqlite-utils creates the tables from the
  schemas, pandas appends the rows) is timed against a baseline in the same process that inserts
  the same rows as dicts with sqlite-utils' ``insert_all``;
- the server is started on a free port and the first page of the largest table (``responses``,
  by rows) and of the widest (``clips``, by columns) is timed over HTTP and, when Debian's
  chromium and chromedriver are installed, in headless Chromium (navigation start to load end).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATASETS = ("ISD", "ARAUS", "SATP", "DeLTA")
PAGES = ("/mosaiq/responses", "/mosaiq/clips", "/mosaiq/catalogue")


def _baseline_build(root: Path, target: Path) -> None:
    """The same tables, rows inserted as dicts with sqlite-utils' insert_all."""
    import sqlite_utils

    from mosaiq import db as D

    tables = {"catalogue": D._catalogue(root), **D._package_tables(root, D.built_datasets(root))}
    database = sqlite_utils.Database(target, recreate=True)
    for name, table in tables.items():
        database[name].create(table.types, pk=table.pk[0] if len(table.pk) == 1 else None)
        for frame in table.frames:
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            database[name].insert_all(rows, batch_size=2000)
    database.close()


def _timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser():
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(prefix='mosaiq-chromium-')}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tests.conftest import copy_project, point_at_shared_data

    from mosaiq.benchmark.splits import write_splits
    from mosaiq.build import build_dataset
    from mosaiq.catalogue import build_catalogue
    from mosaiq.db import DB_PATH, build_database

    work = Path(tempfile.mkdtemp(prefix="mosaiq-bench-serve-"))
    try:
        root = copy_project(work / "project")
        point_at_shared_data(root, args.shared.resolve())
        for ds in DATASETS:
            assert build_dataset(root, ds).status == "built", ds
        build_catalogue(root)
        for rel in ("benchmark/tasks.yaml", "benchmark/tasks.schema.json"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, root / rel)
        write_splits(root)

        shipped = _timed(lambda: build_database(root), args.repeat)
        baseline = _timed(lambda: _baseline_build(root, work / "baseline.db"), args.repeat)
        size = (root / DB_PATH).stat().st_size / 1e6
        print(f"database for {', '.join(DATASETS)}: {size:.1f} MB")
        print(
            f"  mosaiq db (sqlite-utils tables, pandas rows): min {min(shipped):.2f} s, "
            f"median {statistics.median(shipped):.2f} s"
        )
        print(
            f"  baseline (sqlite-utils insert_all of row dicts): min {min(baseline):.2f} s, "
            f"median {statistics.median(baseline):.2f} s  "
            f"(ratio {min(baseline) / min(shipped):.1f}x)"
        )

        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "mosaiq", "serve", "--root", str(root), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + "/-/versions.json", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.3)
            browser = _browser()
            for page in PAGES:
                urllib.request.urlopen(base + page).read()  # warm
                http = _timed(lambda p=page: urllib.request.urlopen(base + p).read(), 5)
                line = (
                    f"  {page:20} HTTP first page: min {min(http):.3f} s, "
                    f"median {statistics.median(http):.3f} s"
                )
                if browser is not None:
                    loads = []
                    for _ in range(3):
                        browser.get(base + page)
                        loads.append(
                            browser.execute_script(
                                "const t = performance.timing;"
                                "return (t.loadEventEnd - t.navigationStart) / 1000;"
                            )
                        )
                    line += (
                        f"; Chromium load: min {min(loads):.3f} s, "
                        f"median {statistics.median(loads):.3f} s"
                    )
                print(line)
            if browser is not None:
                browser.quit()
        finally:
            server.terminate()
            server.wait(timeout=20)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
