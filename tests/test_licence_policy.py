"""The licence policy: what git holds, what is a DVC output, what is never committed.

ISD's licence lets its tables and everything derived from them be in git. ARAUS, SATP and DeLTA
are built from the user's own download: a file that lists their units (tables, splits,
predictions, the overlap table) is a cached DVC output, so git holds only its hash (dvc.lock) and
git ignores the file; their scores, counts, descriptors, cards and figures are committed. Feature
records follow the same rule (computed from a dataset's media they list its clip IDs); feature
arrays are cached for all four. The README's "What is committed" says the same, and
`COMMIT_AFTER_A_LOCAL_BUILD` is its list.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mosaiq.benchmark.tasks import load_tasks
from mosaiq.sources import SOURCE_MODULES, source
from tests.conftest import BIN, REPO, commit_all, point_at_shared_data, run, working_tree_copy

DVC = str(BIN / "dvc")

# What a local build of ARAUS, SATP and DeLTA changes, all of it to commit (README, "What is
# committed"): hashes, counts, scores and figures, never a unit of those datasets.
COMMIT_AFTER_A_LOCAL_BUILD = (
    "dvc.lock",
    "datasets/*/datapackage.yaml",
    "catalogue/data/datasets.csv",
    "reports/validation.json",
    "benchmark/splits/SHA256SUMS",
    "benchmark/results/*.json",
    "benchmark/metrics/*.json",
    "benchmark/metrics_by_target/*.json",
    "benchmark/leaderboard.md",
    "benchmark/plots/*.png",
    "exports/cards/*.md",
    "exports/croissant.json",
    "exports/mosaiq.metadata.json",
)


def _outs(stage: dict) -> dict[str, bool]:
    """Each output of a stage and whether it is cached (a DVC output kept out of git)."""
    found = {}
    for entry in stage.get("outs", []) + stage.get("metrics", []):
        path, flags = next(iter(entry.items())) if isinstance(entry, dict) else (entry, {})
        found[path] = bool((flags or {}).get("cache", True))
    return found


def _committed(datasets: set[str]) -> bool:
    return all(source(ds).committed for ds in datasets)


def expected_benchmark_outs() -> dict[str, bool]:
    """The splits and predictions outputs the policy asks for (True: cached), derived from the
    task file and the source registry."""
    config = load_tasks(REPO)
    expected = {"benchmark/splits/SHA256SUMS": False}
    for name, spec in config["splits"].items():
        expected[f"benchmark/splits/{name}.csv"] = not _committed({spec["dataset"]})
    overlap = {ds for rule in config["overlap"] for ds in rule["datasets"]}
    expected["benchmark/splits/overlap.csv"] = not _committed(overlap)
    for name, spec in config["tasks"].items():
        datasets = {spec["dataset"], spec.get("train_dataset", spec["dataset"])}
        expected[f"benchmark/predictions/{name}"] = not _committed(datasets)
    return expected


FEATURE_RECORDS = (
    "features/clip_embedding.csv",
    "features/acoustic_indicators.csv",
    "features/clap_embedding.csv",
    "features/cityseg_summary.csv",
    "data/features.csv",
)
"""The feature record files of a package (one row per clip and feature)."""


def dataset_outs() -> dict[str, bool]:
    """Every output under datasets/ as DVC resolves dvc.yaml (foreach expanded), and whether it
    is cached."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        return {
            str(out.def_path): bool(out.use_cache)
            for stage in repo.index.stages
            for out in stage.outs
            if str(out.def_path).startswith("datasets/")
        }


def test_feature_records_follow_the_licence_and_arrays_are_cached():
    outs = dataset_outs()
    for ds in SOURCE_MODULES:
        records = {f"datasets/{ds}/{rel}" for rel in FEATURE_RECORDS}
        for path in records:
            assert outs[path] is not source(ds).committed, path
        features_dir = f"datasets/{ds}/features/"
        arrays = {p for p in outs if p.startswith(features_dir) and p not in records}
        assert arrays == {
            features_dir + n for n in ("clip_embedding", "clap_embedding", "cityseg_summary")
        }
        assert all(outs[p] for p in arrays), arrays


def test_files_naming_units_of_a_local_dataset_are_cached_outputs():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    listed = {
        path: cached
        for name in ("splits", "baselines")
        for path, cached in _outs(stages[name]).items()
        if path.startswith(("benchmark/splits/", "benchmark/predictions/"))
    }
    assert listed == expected_benchmark_outs()
    # scores, figures and the leaderboard hold no unit: committed
    aggregates = {**_outs(stages["baselines"]), **_outs(stages["plots"])}
    for path in (
        "benchmark/results",
        "benchmark/metrics",
        "benchmark/metrics_by_target",
        "benchmark/leaderboard.md",
    ):
        assert aggregates[path] is False, path
    assert aggregates["benchmark/plots"] is False
    # the tables of a dataset built locally are cached (ISD's are committed)
    local = _outs(stages["build-local"]["do"])
    assert local["datasets/${key}/data/clips.csv"] and local["datasets/${key}/data/responses.csv"]
    assert {ds for ds in SOURCE_MODULES if not source(ds).committed} == set(
        stages["build-local"]["foreach"]
    )


def test_mosaiq_pull_names_the_dataset_of_each_restricted_benchmark_output():
    """`mosaiq pull` attributes a split or predictions folder to the dataset whose licence keeps
    it off the public remote (so its message says to build that dataset from your download)."""
    from mosaiq.pull import owner_of

    for path, cached in expected_benchmark_outs().items():
        owner = owner_of(REPO, path)
        if path.endswith(("overlap.csv", "SHA256SUMS")):
            assert owner is None
        else:
            assert owner is not None and source(owner).committed is not cached, path
    for path in dataset_outs():  # tables, feature records and arrays: the package's dataset
        assert owner_of(REPO, path) == path.split("/")[1], path


def readme_public_push() -> list[str]:
    """The targets of the README's push to the public bucket (`dvc push -r s3 ...`)."""
    text = (REPO / "README.md").read_text()
    (targets,) = re.findall(r"dvc push -r s3 ([\w@ -]+?)\s*(?:#.*)?$", text, re.M)
    return targets.split()


def test_the_readme_public_push_names_every_cached_output_of_isd_and_no_other():
    """`dvc push -r s3 <groups>`: each group holds only datasets whose licence allows the public
    remote, and every stage of those datasets with a cached output is in one of the groups."""
    from dvc.repo import Repo

    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    public = {ds for ds in SOURCE_MODULES if source(ds).committed}
    targets = readme_public_push()
    for name in targets:
        assert set(stages[name]["foreach"]) <= public, name
    with Repo(str(REPO)) as repo:
        for stage in repo.index.stages:
            group, _, ds = stage.addressing.partition("@")
            if ds in public and any(out.use_cache for out in stage.outs):
                assert group in targets, stage.addressing


def _git(args: list[str], cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=False
    ).stdout


def test_git_ignores_every_cached_output_and_tracks_every_committed_one():
    """What DVC keeps in its cache is in a .gitignore (DVC writes them) and never tracked."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    cached, committed = [], []
    for name in ("splits", "baselines"):
        for path, is_cached in _outs(stages[name]).items():
            (cached if is_cached else committed).append(path)
    for path, is_cached in dataset_outs().items():  # every build and feature stage, resolved
        (cached if is_cached else committed).append(path)
    ignored = set(_git(["check-ignore", "--no-index", *cached], REPO).split())
    assert ignored == set(cached)
    assert not _git(["ls-files", "--", *cached], REPO).strip()
    assert not _git(["check-ignore", "--no-index", *committed], REPO).strip()
    assert all(_git(["ls-files", "--", path], REPO).strip() for path in committed), committed


def _unit_ids(repo: Path, datasets: list[str]) -> set[str]:
    ids: set[str] = set()
    for ds in datasets:
        for table in ("clips", "responses"):
            frame = pd.read_csv(repo / f"datasets/{ds}/data/{table}.csv", dtype=str)
            for col in ("clip_id", "response_id"):
                if col in frame:
                    ids |= set(frame[col].dropna())
    return ids


def _sha256(repo: Path, paths: list[str]) -> dict[str, str]:
    out = {}
    for rel in paths:
        base = repo / rel
        for p in sorted([base] if base.is_file() else base.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(repo))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.slow
def test_a_local_build_changes_only_what_may_be_committed_and_round_trips(tmp_path, shared_data):
    """Build all four datasets from the real tables: what git shows is exactly the README's list
    (no unit of ARAUS, SATP or DeLTA in it); committed and pushed to a private remote, a fresh
    clone pulls the same files and `dvc status` is clean."""
    repo = working_tree_copy(tmp_path / "repo")
    point_at_shared_data(repo, shared_data)
    commit_all(repo, "point the raw params at my download")
    run([DVC, "repro"], cwd=repo, timeout=900)

    porcelain = _git(["status", "--porcelain", "--untracked-files=all"], repo).splitlines()
    changed = [line[3:] for line in porcelain]
    assert changed, "a local build changes the descriptors, the catalogue and dvc.lock"
    stray = [
        p for p in changed if not any(fnmatch.fnmatch(p, g) for g in COMMIT_AFTER_A_LOCAL_BUILD)
    ]
    assert stray == [], f"not in the README's list: {stray}"
    local = [ds for ds in SOURCE_MODULES if not source(ds).committed]
    ids = _unit_ids(repo, local)
    assert len(ids) > 10_000
    token = re.compile(r"[\w.\-]+")
    for rel in changed:
        if rel.endswith(".png"):
            continue
        leaked = ids.intersection(token.findall((repo / rel).read_text()))
        assert not leaked, f"{rel} names units of {local}: {sorted(leaked)[:3]}"

    # the row-level files exist, and git ignores them
    restricted = [p for p, cached in expected_benchmark_outs().items() if cached]
    restricted += [f"datasets/{ds}/data/{t}.csv" for ds in local for t in ("clips", "responses")]
    assert all((repo / p).exists() for p in restricted)
    for rel in restricted:  # (a split of SATP names clip|language units)
        if rel.endswith(".csv") and "overlap" not in rel:
            assert ids.intersection(token.findall((repo / rel).read_text().replace("|", " "))), rel
    # feature records (empty without media; with media they list clip IDs) are ignored too
    restricted += [f"datasets/{ds}/{rel}" for ds in local for rel in FEATURE_RECORDS]
    assert all((repo / p).exists() for p in restricted)
    ignored = set(_git(["check-ignore", *restricted], repo).split())
    assert ignored == set(restricted)

    # commit what the README says (everything git shows), push to a private remote, clone, pull
    commit_all(repo, "local build")
    # the README's push to the public bucket sends ISD's cached outputs, no restricted file
    public = tmp_path / "public-remote"
    run([DVC, "remote", "add", "--local", "pub", str(public)], cwd=repo)
    run([DVC, "push", "-r", "pub", *readme_public_push()], cwd=repo)
    pushed = {p.parent.name + p.name for p in public.rglob("*") if p.is_file()}
    assert pushed, "ISD's feature arrays are cached outputs"
    restricted_md5 = {
        hashlib.md5((repo / rel).read_bytes()).hexdigest() for rel in _sha256(repo, restricted)
    }
    assert not pushed & restricted_md5
    storage = tmp_path / "private-remote"
    run([DVC, "remote", "add", "--local", "-d", "mine", str(storage)], cwd=repo)
    run([DVC, "push"], cwd=repo)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], cwd=tmp_path)
    assert not (clone / restricted[0]).exists()
    run([DVC, "remote", "add", "--local", "-d", "mine", str(storage)], cwd=clone)
    run([DVC, "pull"], cwd=clone)
    assert _sha256(clone, restricted) == _sha256(repo, restricted)
    assert "up to date" in run([DVC, "status"], cwd=clone).stdout
    assert not _git(["status", "--porcelain", "--untracked-files=all"], clone).strip()
