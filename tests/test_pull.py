"""`mosaiq pull` against a real HTTP remote on 127.0.0.1 that holds nothing yet: DVC's own
messages, then one plain sentence per dataset saying what to do instead."""

from __future__ import annotations

import pytest

from tests.conftest import BIN, clone_with_public_remote, http_server, run, working_tree_copy

DVC = str(BIN / "dvc")
MOSAIQ = str(BIN / "mosaiq")


@pytest.fixture(scope="module")
def clone_of_empty_remote(tmp_path_factory):
    """A fresh clone whose default (public) remote is an HTTP server serving an empty folder."""
    base = tmp_path_factory.mktemp("pull")
    repo = working_tree_copy(base / "repo")
    served = base / "served"
    served.mkdir()
    with http_server(served) as url:
        yield clone_with_public_remote(repo, base / "clone", url)


def test_pull_of_a_dataset_the_remote_lacks_says_what_to_do(clone_of_empty_remote):
    proc = run([MOSAIQ, "pull", "-d", "ISD"], cwd=clone_of_empty_remote, check=False)
    assert proc.returncode != 0
    out = proc.stdout
    assert "Checkout failed" in out  # DVC's own message, as DVC prints it
    (sentence,) = [line for line in out.splitlines() if line.startswith("ISD: ")]
    assert "the DVC remote 'public' does not hold" in sentence
    assert "datasets/ISD/features/" in sentence and "`dvc repro`" in sentence


def test_pull_of_a_restricted_dataset_says_it_is_kept_out(clone_of_empty_remote):
    proc = run([MOSAIQ, "pull", "-d", "SATP"], cwd=clone_of_empty_remote, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines == [
        "SATP is not on the public DVC remote: its licence keeps it out. Build it from your own "
        "download instead (`mosaiq fetch SATP`, or the files in datasets/SATP/raw/, then "
        "`dvc repro`), or pull it from a private remote you pushed it to "
        "(`mosaiq pull -d SATP -r NAME`)."
    ]


def test_pull_of_everything_names_each_dataset_once(clone_of_empty_remote):
    proc = run([MOSAIQ, "pull"], cwd=clone_of_empty_remote, check=False)
    assert proc.returncode != 0
    out = proc.stdout
    for ds in ("ARAUS", "SATP", "DeLTA"):
        assert out.count(f"{ds} is not on the public DVC remote: its licence keeps it out") == 1
    assert out.count("ISD: the DVC remote 'public' does not hold") == 1
    assert not (clone_of_empty_remote / "datasets/SATP/data/clips.csv").exists()


def test_info_says_per_dataset_whether_it_is_on_the_public_remote(clone_of_empty_remote):
    out = run([MOSAIQ, "info"], cwd=clone_of_empty_remote).stdout
    assert "public DVC remote: yes (`mosaiq pull -d ISD`" in out
    for ds in ("ARAUS", "SATP", "DeLTA"):
        block = out.split(f"\n{ds} ")[1].split("\n", 3)
        assert block[1].startswith(
            f"       to get it: build it from your own download: `mosaiq fetch {ds}`"
        )
        assert block[2] == "       public DVC remote: no, its licence keeps it out"


def test_pull_refuses_an_unknown_dataset(clone_of_empty_remote):
    proc = run([MOSAIQ, "pull", "-d", "FOO"], cwd=clone_of_empty_remote, check=False)
    assert proc.returncode == 2 and "unknown dataset FOO" in proc.stderr


@pytest.mark.slow
def test_pull_from_a_partial_remote_fetches_what_it_holds_and_names_the_rest(tmp_path):
    """The HTTP remote holds the database only: the pull fetches it, and says that ISD's
    feature arrays and the other exports are not there yet."""
    repo = working_tree_copy(tmp_path / "repo")
    run([DVC, "repro"], cwd=repo, timeout=900)
    if run(["git", "status", "--porcelain"], cwd=repo).stdout.strip():
        run(["git", "add", "-A"], cwd=repo)
        run(["git", "commit", "-qm", "build"], cwd=repo)
    served = tmp_path / "served"
    run([DVC, "remote", "modify", "--local", "local", "url", str(served)], cwd=repo)
    run([DVC, "push", "-r", "local", "exports/mosaiq.db"], cwd=repo)
    with http_server(served) as url:
        clone = clone_with_public_remote(repo, tmp_path / "clone", url)
        proc = run([MOSAIQ, "pull"], cwd=clone, check=False)
    assert proc.returncode != 0
    db = clone / "exports/mosaiq.db"
    assert db.read_bytes() == (repo / "exports/mosaiq.db").read_bytes()  # what it holds
    out = proc.stdout
    assert out.count("ISD: the DVC remote 'public' does not hold") == 1
    (exports,) = [line for line in out.splitlines() if line.startswith("The exports")]
    assert "exports/parquet" in exports and "mosaiq.db" not in exports


def test_the_quick_committed_lookup_agrees_with_each_source():
    from mosaiq.sources import SOURCE_MODULES, committed, source

    assert {ds: committed(ds) for ds in SOURCE_MODULES} == {
        ds: source(ds).committed for ds in SOURCE_MODULES
    }
    assert any(committed(ds) for ds in SOURCE_MODULES)
    assert not all(committed(ds) for ds in SOURCE_MODULES)
