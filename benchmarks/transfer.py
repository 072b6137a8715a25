"""Benchmark: `dvc push` / `dvc pull` of the whole benchmark to a local remote and to a real S3
server (SeaweedFS on 127.0.0.1), first time and no-op; and the start-up time of the commands
users run most.

    uv run python benchmarks/transfer.py [--shared ../shared/data] [--repeat 5]

The benchmark is built in a temporary copy of this repository from the raw tables in
``--shared`` (all four datasets), so every DVC output exists; nothing here is modified.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    full = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{BIN}:{os.environ['PATH']}",
        **(env or {}),
    }
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=full, check=True, capture_output=True, text=True)
    return time.perf_counter() - t


def timed(cmd: list[str], cwd: Path, repeat: int) -> tuple[float, float]:
    runs = [sh(cmd, cwd) for _ in range(repeat)]
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from tests.conftest import commit_all, point_at_shared_data, working_tree_copy
    from tests.s3server import S3Server, client_env

    dvc = str(BIN / "dvc")
    work = Path(tempfile.mkdtemp(prefix="mosaiq-transfer-"))
    try:
        repo = working_tree_copy(work / "repo")
        point_at_shared_data(repo, args.shared.resolve())
        build = sh([dvc, "repro"], repo)
        commit_all(repo, "built")
        outputs = sum(1 for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in (repo / ".dvc" / "cache").rglob("*") if p.is_file())
        print(
            f"benchmark built from the raw tables in {build:.1f} s (`dvc repro`): "
            f"{outputs} cached objects, {size / 1e6:.1f} MB"
        )

        print("\nremote  operation        seconds")
        results = []
        for name in ("local", "s3"):
            env = {}
            server = None
            if name == "s3":
                server = S3Server(work / "s3-data").start()
                env = client_env()
                sh([dvc, "remote", "modify", "--local", "s3", "endpointurl", server.endpoint], repo)
                sh([dvc, "remote", "modify", "s3", "url", "s3://mosaiq/bench"], repo)
                commit_all(repo, "s3 remote")
            flag = ["-r", name]
            results.append((name, "push (first)", sh([dvc, "push", *flag], repo, env)))
            results.append((name, "push (no-op)", sh([dvc, "push", *flag], repo, env)))
            clone = work / f"clone-{name}"
            subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True)
            if server is not None:
                sh(
                    [dvc, "remote", "modify", "--local", "s3", "endpointurl", server.endpoint],
                    clone,
                )
            results.append((name, "pull (first)", sh([dvc, "pull", *flag], clone, env)))
            results.append((name, "pull (no-op)", sh([dvc, "pull", *flag], clone, env)))
            if server is not None:
                server.stop(kill=True)
            for remote, op, secs in results[-4:]:
                print(f"{remote:7} {op:14} {secs:8.2f}")

        print(f"\nstart-up (min / median of {args.repeat} runs)")
        commands = [
            ("mosaiq --help", [str(BIN / "mosaiq"), "--help"]),
            ("mosaiq --version", [str(BIN / "mosaiq"), "--version"]),
            ("mosaiq info", [str(BIN / "mosaiq"), "info"]),
            (
                'python -c \'mosaiq.load("ISD", "clips")\'',
                [sys.executable, "-c", "import mosaiq; mosaiq.load('ISD', 'clips')"],
            ),
            ("dvc status", [dvc, "status"]),
            ("dvc repro (no-op)", [dvc, "repro"]),
        ]
        for label, cmd in commands:
            lo, med = timed(cmd, repo, args.repeat)
            print(f"  {label:42} {lo:6.2f} s / {med:6.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
