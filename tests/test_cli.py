"""The command line as a user runs it: start-up weight, exit codes, messages."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

import mosaiq
from tests.conftest import BIN, run


def imported_modules(args: list[str], cwd: Path) -> set[str]:
    """Top-level modules imported by `mosaiq ARGS` (from python -X importtime)."""
    code = "import sys; from mosaiq.cli import main; sys.argv = ['mosaiq', *sys.argv[1:]]; main()"
    proc = run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=cwd, check=False)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_help_and_version_do_not_import_heavy_libraries(repo):
    for args in (["--help"], ["--version"], ["build", "--help"]):
        modules = imported_modules(args, repo)
        assert "mosaiq" in modules
        assert not modules & {"pandas", "numpy", "torch", "frictionless", "dvc", "cv2"}, args


def test_version(repo):
    import tomllib
    from importlib.metadata import version

    out = run([str(BIN / "mosaiq"), "--version"], cwd=repo).stdout
    assert out.strip() == f"mosaiq {mosaiq.__version__}"
    declared = tomllib.loads((repo / "pyproject.toml").read_text())["project"]["version"]
    assert mosaiq.__version__ == declared == version("mosaiq")


def full_cli(args: list[str], cwd: Path, columns: int) -> str:
    """What typer prints for ARGS (the whole command line, no fast path)."""
    code = "import sys; from mosaiq.cli import main; sys.argv = ['mosaiq', *sys.argv[1:]]; main()"
    env = {"COLUMNS": str(columns)}
    return run([sys.executable, "-c", code, *args], cwd=cwd, env=env).stdout


def test_fast_help_and_version_are_what_the_full_command_line_prints(repo):
    for columns in (80, 120, 60):
        for args in (["--help"], ["--version"]):
            fast = run([str(BIN / "mosaiq"), *args], cwd=repo, env={"COLUMNS": str(columns)})
            assert fast.stdout == full_cli(args, repo, columns), (args, columns)
    lines = run([str(BIN / "mosaiq"), "--help"], cwd=repo).stdout.splitlines()
    assert any(line.split()[:1] == ["validate"] for line in lines)


def test_fast_help_and_version_do_not_import_the_command_line_library(repo):
    for args in (["--help"], ["--version"]):
        proc = run(
            [sys.executable, "-X", "importtime", str(BIN / "mosaiq"), *args],
            cwd=repo,
            env={"COLUMNS": "80"},
        )
        names = {
            line.rsplit("|", 1)[1].strip().split(".")[0]
            for line in proc.stderr.splitlines()
            if line.startswith("import time:") and "|" in line
        }
        assert "mosaiq" in names
        assert not names & {"typer", "click", "rich", "importlib_metadata"}, args


def test_info_reports_what_is_built(built_isd):
    out = run([str(BIN / "mosaiq"), "info"], cwd=built_isd).stdout
    assert "ISD    built: 2,682 clips, 3,476 responses, 113 exclusions" in out
    assert "ARAUS  not built" in out


def test_validate_fails_with_the_place_of_the_error(built_isd, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(built_isd, root)
    path = root / "datasets/ISD/data/responses.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = lines[5].replace(",eng,", ",english,", 1)
    path.write_text("".join(lines))
    proc = run([str(BIN / "mosaiq"), "validate", "-d", "ISD"], cwd=root, check=False)
    assert proc.returncode == 1
    assert "datasets/ISD/data/responses.csv, row 6, field 'language'" in proc.stdout
    assert "validation FAILED" in proc.stdout
    # a partial run (-d) never writes the pipeline's full report
    assert not (root / "reports/validation.json").is_file()


def test_unknown_dataset_and_outside_a_checkout_are_clear_errors(tmp_path, repo):
    proc = run([str(BIN / "mosaiq"), "build", "XYZ"], cwd=repo, check=False)
    assert proc.returncode == 1
    assert "unknown dataset 'XYZ'" in proc.stderr
    proc = run([str(BIN / "mosaiq"), "info"], cwd=tmp_path, check=False, env={"MOSAIQ_ROOT": ""})
    assert proc.returncode == 1
    assert "not inside a MOSAIQ checkout" in proc.stderr


def test_load_returns_schema_dtypes(built_isd):
    clips = mosaiq.load("ISD", "clips", root=built_isd)
    assert str(clips["n_responses"].dtype) == "Int64"
    assert str(clips["mean_ISOPleasant"].dtype) == "float64"
    assert str(clips["clip_id"].dtype) == "string"
    responses = mosaiq.load("ISD", "responses", root=built_isd)
    assert str(responses["paq_complete"].dtype) == "boolean"
    assert str(responses["traffic_noise"].dtype) == "Int64"
    both = mosaiq.load_all("clips", root=built_isd)
    assert isinstance(both, pd.DataFrame)
    assert set(both["dataset_id"]) == {"ISD"}
