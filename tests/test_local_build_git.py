"""After building ARAUS, SATP and DeLTA from one's own download, `git status` lists only the files
the README says to commit: the row-level files of those datasets are DVC outputs or ignored."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

from tests.conftest import BIN, commit_all, point_at_shared_data, run, working_tree_copy

# The README's list ("after building from your own download, commit ..."): descriptors, the
# catalogue, dvc.lock and aggregate files (no row of a restricted dataset).
TO_COMMIT = (
    "dvc.lock",
    "datasets/*/datapackage.yaml",
    "datasets/*/schemas/*",
    "catalogue/data/datasets.csv",
    "catalogue/datapackage.yaml",
    "reports/validation.json",
    "exports/croissant.json",
    "exports/cards/*.md",
    "exports/mosaiq.metadata.json",
    "benchmark/splits/SHA256SUMS",
    "benchmark/splits/overlap.csv",
    "benchmark/leaderboard.md",
    "benchmark/results/*.json",
    "benchmark/metrics/*.json",
    "benchmark/plots/*.png",
)
# Files that list unit IDs of a restricted dataset: written, never committed.
ROW_LEVEL = (
    "benchmark/splits/araus_*.csv",
    "benchmark/splits/satp_*.csv",
    "benchmark/splits/delta_*.csv",
)


@pytest.mark.slow
def test_a_local_build_leaves_only_the_files_to_commit(tmp_path: Path, shared_data: Path) -> None:
    repo = working_tree_copy(tmp_path / "repo")
    point_at_shared_data(repo, shared_data)
    commit_all(repo, "point at the downloads")
    proc = run([str(BIN / "dvc"), "repro"], cwd=repo, timeout=1800)
    for ds in ("ARAUS", "SATP", "DeLTA"):
        assert f"{ds}: built: " in proc.stdout
    # array folders hold an index, so DVC never warns that one is empty
    assert "is empty" not in proc.stdout + proc.stderr

    porcelain = run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo
    ).stdout.splitlines()
    listed = [line[3:] for line in porcelain]
    assert listed, "a build of three more datasets changes the descriptors"
    stray = [p for p in listed if not any(fnmatch.fnmatch(p, pat) for pat in TO_COMMIT)]
    assert stray == [], f"not in the README's list of files to commit: {stray}"
    # the row-level files exist (the build wrote them) and git ignores them
    written = [p.relative_to(repo).as_posix() for pat in ROW_LEVEL for p in repo.glob(pat)]
    assert {Path(p).name.split("_")[0] for p in written} == {"araus", "satp", "delta"}
    ignored = run(["git", "check-ignore", *written], cwd=repo).stdout.split()
    assert sorted(ignored) == sorted(written)
