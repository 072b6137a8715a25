"""Shared fixtures: the repository, the real source tables, and scratch copies of the project."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
BIN = Path(sys.executable).parent

# Files a build needs besides the installed code.
# The PAQ attributes in circumplex order, spelled as the raw files spell them; written out here
# (not imported from mosaiq) so that the tests check the package against an independent list.
PAQ_WORDS = [
    "pleasant",
    "vibrant",
    "eventful",
    "chaotic",
    "annoying",
    "monotonous",
    "uneventful",
    "calm",
]

PROJECT_FILES = (
    "params.yaml",
    "dvc.yaml",
    "shared_schemas",
    "catalogue/sources.yaml",
    "catalogue/schemas",
    "config",
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


SHARED_FILES = {
    "ARAUS": {"responses": "ARAUS/araus_v1_responses_soundscaper_derived.csv"},
    "SATP": {"responses": "SATP/SATP_v1.4_main_merge.csv"},
    "DeLTA": {
        "survey": "DeLTA/DeLTA-Survey-Responses_2021-07-28.csv",
        "collapsed": "DeLTA/DeLTA-collapsed-majority_2022-08-09.csv",
    },
}


def set_params(root: Path, edit) -> None:
    """Edit the project's params.yaml in place with ``edit(params_dict)``."""
    import yaml

    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def point_at_shared_data(root: Path, shared: Path, datasets=("ARAUS", "SATP", "DeLTA")) -> None:
    """Make the project read the real tables in ../shared/data (absolute paths, never copied)."""

    def edit(params):
        for ds in datasets:
            for key, rel in SHARED_FILES[ds].items():
                params["build"][ds][key] = str(shared / rel)

    set_params(root, edit)


@pytest.fixture(scope="session")
def built_all(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A project with all four datasets built from the real tables, once for the session."""
    from mosaiq.build import build_dataset
    from mosaiq.catalogue import build_catalogue

    root = copy_project(tmp_path_factory.mktemp("all") / "project")
    point_at_shared_data(root, shared_data)
    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        assert build_dataset(root, ds).status == "built"
    build_catalogue(root)
    return root


TINY_CLIP = {
    "model_cfg": {
        "embed_dim": 32,
        "vision_cfg": {
            "image_size": 64,
            "layers": 2,
            "width": 64,
            "patch_size": 16,
            "head_width": 32,
        },
        "text_cfg": {"context_length": 16, "vocab_size": 512, "width": 32, "heads": 2, "layers": 1},
    },
    "preprocess_cfg": {
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
    },
}


def tiny_clip_dir(path: Path) -> Path:
    """A local open_clip model folder (config only: weights are random, from clip.seed)."""
    import json

    path.mkdir(parents=True, exist_ok=True)
    (path / "open_clip_config.json").write_text(json.dumps(TINY_CLIP))
    return path


def tiny_clap_config() -> Any:
    """A tiny transformers ``ClapConfig`` (weights are random, from a seed)."""
    from transformers import ClapConfig

    return ClapConfig(
        audio_config={
            "hidden_size": 32,
            "patch_embeds_hidden_size": 16,
            "depths": [1, 1],
            "num_attention_heads": [1, 2],
            "projection_dim": 16,
        },
        text_config={
            "hidden_size": 16,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 32,
            "projection_dim": 16,
            "vocab_size": 100,
            "max_position_embeddings": 64,
        },
        projection_dim=16,
    )


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


GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]


def commit_all(repo: Path, message: str) -> None:
    run([*GIT, "add", "-A"], cwd=repo)
    run([*GIT, "commit", "-q", "-m", message], cwd=repo)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files holding end-to-end (`slow`) tests first, keeping the order within a file: on
    several workers (`--dist loadfile`) the longest files start first instead of last."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def http_server(folder: Path) -> Iterator[str]:
    """A real HTTP server (`python -m http.server`) on 127.0.0.1 serving ``folder``: its URL,
    yielded once the server answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(f"{url}/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def clone_with_public_remote(repo: Path, clone: Path, url: str) -> Path:
    """A fresh `git clone` of ``repo`` whose default (public) remote is ``url`` (config.local)."""
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=clone.parent)
    run([str(BIN / "dvc"), "remote", "modify", "--local", "public", "url", url], cwd=clone)
    return clone


SAMPLE_ROWS = 120


def write_raw_sample(shared: Path, dataset: str, raw: Path) -> dict[str, Path]:
    """A small real sample of a source's files (their first rows; DeLTA: whole clips, so that
    its two files stay consistent) written into ``raw``: {file key: path}."""
    import pandas as pd

    raw.mkdir(parents=True, exist_ok=True)
    written = {}
    for key, rel in SHARED_FILES[dataset].items():
        table = pd.read_csv(shared / rel, dtype=str, keep_default_na=False)
        if dataset == "DeLTA":
            keep = table["recording"].isin(table["recording"].drop_duplicates().iloc[:40])
            table = table[keep]
        else:
            table = table.iloc[:SAMPLE_ROWS]
        path = raw / Path(rel).name
        table.to_csv(path, index=False)
        written[key] = path
    return written
