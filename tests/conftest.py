"""Shared fixtures: the repository, the real source tables, and scratch copies of the project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent

# Files a build needs besides the installed code.
PROJECT_FILES = (
    "params.yaml",
    "dvc.yaml",
    "shared_schemas",
    "catalogue/sources.yaml",
    "catalogue/schemas",
)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: in CI it must be there (a test that needs it fails, never skips)."""
    if not SHARED_DATA.is_dir():
        if in_ci():
            pytest.fail(f"{SHARED_DATA} is missing: CI must provide ../shared/data")
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def isd_raw() -> Path:
    from mosaiq.sources.isd import locate_raw

    return locate_raw(REPO, {"build": {"ISD": {"raw": "soundscapy"}}})


def copy_project(dest: Path, *extra: str) -> Path:
    """A minimal project (params, pipeline, shared schemas, catalogue facts) in ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel in (*PROJECT_FILES, *extra):
        src = REPO / rel
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, target)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="session")
def built_isd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with ISD built once for the session (read-only for tests)."""
    from mosaiq.build import build_dataset
    from mosaiq.catalogue import build_catalogue

    root = copy_project(tmp_path_factory.mktemp("built") / "project")
    build_dataset(root, "ISD")
    build_catalogue(root)
    return root


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command with the project's virtualenv first on PATH."""
    full_env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "DVC_NO_ANALYTICS": "1",
        **(env or {}),
    }
    proc = subprocess.run(
        cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
            f"stderr:\n{proc.stderr}"
        )
    return proc
