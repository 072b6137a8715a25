"""A build killed with ``kill -9`` while it writes leaves temporaries (``.<name>.tmp-<pid>``):
DVC must not count them (``dvc status`` stays clean) and the next build removes them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import BIN, run, working_tree_copy

PKG = Path("datasets/ISD")
SCHEMAS = PKG / "schemas"  # a directory output of build@ISD: DVC hashes what is in it


def _temporaries(repo: Path) -> list[Path]:
    return sorted((repo / SCHEMAS).glob(".*.tmp-*"))


def _kill_a_build_while_it_writes(repo: Path) -> list[Path]:
    """Start `mosaiq build ISD` with its outputs out of date and SIGKILL it as soon as one of its
    temporaries exists in a directory output (retrying if the build finished first)."""
    schema = repo / SCHEMAS / "responses.schema.yaml"
    table = repo / PKG / "data" / "responses.csv"
    originals = {p: p.read_bytes() for p in (schema, table)}
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for _attempt in range(20):
        for path, data in originals.items():  # out of date: the build rewrites both
            path.write_bytes(data[: len(data) // 2])
        proc = subprocess.Popen(
            [str(BIN / "mosaiq"), "build", "ISD"],
            cwd=repo,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while proc.poll() is None:
            if _temporaries(repo):
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                left = _temporaries(repo)
                if left:
                    return left
            time.sleep(0.0005)
    raise AssertionError("no build could be killed while writing in 20 attempts")


def test_a_killed_build_leaves_dvc_status_clean_and_the_next_build_cleans_up(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    dvc = str(BIN / "dvc")
    assert "up to date" in run([dvc, "status", "build@ISD"], cwd=repo).stdout
    left = _kill_a_build_while_it_writes(repo)
    assert all(re.fullmatch(r"\..+\.tmp-\d+", p.name) for p in left), left
    # the published files as they were (the kill left only temporaries beside them)
    run(["git", "checkout", "-q", "--", str(PKG)], cwd=repo)
    assert _temporaries(repo) == left
    status = run([dvc, "status", "build@ISD"], cwd=repo).stdout
    assert "up to date" in status, status
    # the next build removes what the killed one left, and changes nothing
    run([sys.executable, "-m", "mosaiq", "build", "ISD"], cwd=repo)
    assert _temporaries(repo) == []
    assert run(["git", "status", "--porcelain"], cwd=repo).stdout == ""
    assert "up to date" in run([dvc, "status", "build@ISD"], cwd=repo).stdout
