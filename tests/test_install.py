"""The lean install: the core runs without the feature stack; the public API is discoverable."""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

import yaml

import mosaiq
from mosaiq.package import table_to_csv
from tests.conftest import run

FEATURE_MODULES = ("torch", "torchvision", "open_clip", "cv2", "av", "transformers", "mosqito")

# Runs the CLI with the feature stack made unimportable, as in an install without the extra.
WITHOUT_FEATURES = f"""
import sys

class NoFeatures:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {FEATURE_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, NoFeatures())
from mosaiq.cli import main
sys.argv = ["mosaiq", *sys.argv[1:]]
main()
"""


def test_core_dependencies_hold_no_feature_stack(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    for name in ("torch", "torchvision", "open-clip-torch", "opencv", "av>", "transformers"):
        assert name not in core, name
    assert "soundscapy[audio]" not in core
    features = " ".join(project["optional-dependencies"]["features"])
    for name in ("torch==", "torchvision==", "open-clip-torch", "opencv", "av>", "transformers"):
        assert name in features, name
    assert "soundscapy[audio]" in features


def test_ci_and_readme_run_the_same_test_command(repo):
    ci = (repo / ".ci/run").read_text()
    readme = (repo / "README.md").read_text()
    assert "uv sync --all-extras --all-groups --compile-bytecode --frozen" in ci
    command = ci.strip().splitlines()[-1]
    assert command.startswith("uv run --all-extras")
    assert f"\n{command}\n" in readme


def test_dir_lists_the_api():
    names = dir(mosaiq)
    for name in (
        "load",
        "load_all",
        "load_task",
        "built_datasets",
        "plot",
        "MosaiqError",
        "__version__",
    ):
        assert name in names
        assert name in mosaiq.__all__
    assert callable(mosaiq.load_task)


def test_feature_stage_without_media_succeeds_without_the_extra(built_isd, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    proc = run(
        [sys.executable, "-c", WITHOUT_FEATURES, "features", "clip", "ISD", "--no-progress"],
        cwd=root,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert (root / "datasets/ISD/features/clip_embedding.csv").is_file()


def test_feature_stage_with_work_names_the_install_command(built_isd, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built_isd, root)
    path = root / "datasets/ISD/data/clips.csv"
    schema = yaml.safe_load((root / "datasets/ISD/schemas/clips.schema.yaml").read_text())
    clips = mosaiq.load("ISD", "clips", root=root)
    clips.loc[clips.index[0], "video_asset"] = "v0.mp4"
    path.write_bytes(table_to_csv(clips, schema))
    proc = run(
        [sys.executable, "-c", WITHOUT_FEATURES, "features", "clip", "ISD", "--no-progress"],
        cwd=root,
        check=False,
    )
    assert proc.returncode != 0
    err = " ".join((proc.stderr + proc.stdout).split())
    assert 'uv sync --extra features (or: pip install "mosaiq[features]")' in err, err
    assert "Traceback" not in proc.stderr
    assert not any(Path(root / "datasets/ISD/features/clip_embedding").glob("*.npy"))
