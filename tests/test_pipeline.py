"""`dvc repro` for real, in a copy of the repository: byte-identical outputs, then a no-op."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, REPO, run


def working_tree_copy(dest: Path) -> Path:
    """The repository's tracked and untracked (not ignored) files, committed in a new repo."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    run(["git", "init", "-q"], cwd=dest)
    run([*git, "add", "-A"], cwd=dest)
    run([*git, "commit", "-q", "-m", "snapshot"], cwd=dest)
    return dest


@pytest.mark.slow
def test_dvc_repro_reproduces_the_committed_files_byte_for_byte(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    dvc = str(BIN / "dvc")
    status = run([dvc, "status"], cwd=repo).stdout
    assert "up to date" in status, status
    out = run([dvc, "repro", "--force"], cwd=repo).stdout
    for stage in ("build@ISD", "catalogue", "validate"):
        assert f"Running stage '{stage}'" in out
    assert "validation passed" in out
    porcelain = run(["git", "status", "--porcelain"], cwd=repo).stdout
    assert porcelain == "", f"dvc repro changed committed files:\n{porcelain}"
    again = run([dvc, "repro"], cwd=repo).stdout
    assert "Running stage" not in again
    assert "up to date" in again


@pytest.mark.slow
def test_a_failed_validation_fails_dvc_repro(tmp_path):
    repo = working_tree_copy(tmp_path / "repo")
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("tolerance: 1.0e-9", "tolerance: -1.0"))
    proc = run([str(BIN / "dvc"), "repro"], cwd=repo, check=False)
    assert proc.returncode != 0
    assert "validation FAILED" in proc.stdout + proc.stderr
