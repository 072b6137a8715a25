"""Releases for real: the checks that block one, and a release cut in a temporary repository,
then fetched back with `dvc get --rev`."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from tests.conftest import BIN, commit_all, point_at_shared_data, run, working_tree_copy

DVC = str(BIN / "dvc")
MOSAIQ = str(BIN / "mosaiq")


@pytest.mark.slow
def test_release_checks_then_a_release_fetched_with_dvc_get(tmp_path, shared_data):
    repo = working_tree_copy(tmp_path / "work" / "repo")
    # the maintainer's remote as their default (config.local; readers' default is public HTTP)
    run([DVC, "remote", "default", "--local", "local"], cwd=repo)
    run([DVC, "repro"], cwd=repo)  # recreates the not-built outputs that are not in git
    blocked = run([MOSAIQ, "release", "--check"], cwd=repo, check=False)
    assert blocked.returncode == 1
    for ds in ("ARAUS", "SATP", "DeLTA"):
        assert f"blocked: {ds} is not built (not built: raw input absent)" in blocked.stdout

    point_at_shared_data(repo, shared_data)
    run([DVC, "repro"], cwd=repo, timeout=900)
    commit_all(repo, "build all datasets")
    (repo / "notes.txt").write_text("an uncommitted file")
    blocked = run([MOSAIQ, "release", "--check"], cwd=repo, check=False).stdout
    assert "the git work tree is not clean" in blocked
    assert "not in the default remote" in blocked  # `dvc push` has not run yet
    n = int(blocked.split(" DVC outputs are not in the default remote")[0].split()[-1])
    assert n > 10 and "benchmark/predictions/araus_iso (new)" in blocked, blocked
    (repo / "notes.txt").unlink()
    run([DVC, "push"], cwd=repo)
    assert "nothing blocks a release" in run([MOSAIQ, "release", "--check"], cwd=repo).stdout

    out = run([MOSAIQ, "release", "0.2.0"], cwd=repo, timeout=900).stdout
    assert "released v0.2.0" in out
    assert run(["git", "cat-file", "-t", "v0.2.0"], cwd=repo).stdout.strip() == "tag"
    assert run(["git", "status", "--porcelain"], cwd=repo).stdout == ""
    assert "up to date" in run([DVC, "status"], cwd=repo).stdout
    assert json.loads(run([DVC, "status", "--cloud", "--json"], cwd=repo).stdout or "{}") == {}

    assert yaml.safe_load((repo / "params.yaml").read_text())["version"] == "0.2.0"
    for ds in ("ISD", "ARAUS", "SATP", "DeLTA"):
        descriptor = yaml.safe_load((repo / f"datasets/{ds}/datapackage.yaml").read_text())
        assert descriptor["version"] == "0.2.0"
    assert "version: 0.2.0" in (repo / "CITATION.cff").read_text()
    assert 'version = "0.2.0"' in (repo / "pyproject.toml").read_text()
    assert 'name = "mosaiq"\nversion = "0.2.0"' in (repo / "uv.lock").read_text()
    changelog = (repo / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog and "## [0.2.0] - " in changelog

    manifest = json.loads((repo / "releases/v0.2.0.json").read_text())
    files = {f["path"]: f for f in manifest["files"]}
    for rel in (
        "datasets/ISD/data/clips.csv",
        "datasets/ARAUS/data/responses.csv",
        "catalogue/data/datasets.csv",
        "exports/croissant.json",
    ):
        assert hashlib.sha256((repo / rel).read_bytes()).hexdigest() == files[rel]["sha256"]
    assert files["datasets/SATP/data/clips.csv"]["rows"] == 27
    assert manifest["source_versions"]["ISD"][0]["sha256"].startswith("1e54e41c")

    for rel in ("datasets/ISD/data/clips.csv", "datasets/ARAUS/data/clips.csv"):
        target = tmp_path / rel.replace("/", "_")
        run([DVC, "get", str(repo), rel, "--rev", "v0.2.0", "-o", str(target)], cwd=tmp_path)
        assert target.read_bytes() == (repo / rel).read_bytes()

    again = run([MOSAIQ, "release", "0.2.0"], cwd=repo, check=False)
    assert again.returncode == 1 and "tag v0.2.0 exists already" in again.stderr
