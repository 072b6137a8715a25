"""`mosaiq pull`: `dvc pull` of the packages, saying in one sentence per dataset what to do when
the remote lacks its files or its licence keeps it out of the public remote.

DVC's own messages ("Some of the cache files do not exist neither locally nor on remote ...
Checkout failed") are printed as DVC prints them; the sentences follow them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mosaiq.errors import MosaiqError
from mosaiq.settings import DATASETS

PUBLIC_REMOTE = "public"
"""The default remote of the repository (read-only HTTPS), which never holds restricted data."""


def on_public_remote(dataset: str) -> bool:
    """Whether the dataset's tables may be on the public remote (its licence allows them)."""
    from mosaiq.sources import committed

    return committed(dataset)


def public_remote_line(dataset: str) -> str:
    """What `mosaiq info` says of the dataset and the public remote."""
    if on_public_remote(dataset):
        return "yes (`mosaiq pull -d " + dataset + "`; tables in git, arrays on the remote)"
    return "no, its licence keeps it out"


def restricted_sentence(dataset: str) -> str:
    return (
        f"{dataset} is not on the public DVC remote: its licence keeps it out. Build it from your "
        f"own download instead (`mosaiq fetch {dataset}`, or the files in datasets/{dataset}/raw/, "
        f"then `dvc repro`), or pull it from a private remote you pushed it to "
        f"(`mosaiq pull -d {dataset} -r NAME`)."
    )


def missing_sentence(dataset: str | None, remote: str, paths: list[str]) -> str:
    what = dataset or "The exports and other outputs"
    where = f"the DVC remote '{remote}' does not hold {len(paths)} of its files yet"
    if dataset is None:
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        return (
            f"{what} are not on the DVC remote '{remote}' yet ({shown}): run `dvc repro` to "
            "build them here."
        )
    if on_public_remote(dataset):
        return f"{dataset}: {where} (e.g. {paths[0]}): run `dvc repro` to build them here."
    return (
        f"{dataset}: {where} (e.g. {paths[0]}): build it from your own download instead "
        f"(`mosaiq fetch {dataset}`, or the files in datasets/{dataset}/raw/, then `dvc repro`)."
    )


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=root, capture_output=True, text=True, check=False
    )


def default_remote(root: Path) -> str:
    proc = _dvc(root, "remote", "default")
    return proc.stdout.strip()


def cached_outputs(root: Path) -> list[str]:
    """The repository's DVC outputs kept in the cache (what a pull fetches)."""
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return sorted(str(o.def_path) for o in repo.index.outs if o.use_cache)


def dataset_of(path: str) -> str | None:
    parts = Path(path).parts
    return parts[1] if len(parts) > 1 and parts[0] == "datasets" and parts[1] in DATASETS else None


def owner_of(root: Path, path: str) -> str | None:
    """The dataset a DVC output belongs to: its package folder's, or for a benchmark split or
    predictions folder the dataset that ``benchmark/tasks.yaml`` names (for a cross-dataset
    task, the one whose licence keeps it out of the public remote, if any)."""
    found = dataset_of(path)
    parts = Path(path).parts
    if found is not None or len(parts) != 3 or parts[0] != "benchmark":
        return found
    from mosaiq.settings import read_yaml

    tasks_file = root / "benchmark" / "tasks.yaml"
    config = read_yaml(tasks_file) if tasks_file.is_file() else {}
    names: list[str] = []
    if parts[1] == "splits" and parts[2].endswith(".csv"):
        spec = (config.get("splits") or {}).get(parts[2][: -len(".csv")]) or {}
        names = [spec.get("dataset", "")]
    elif parts[1] == "predictions":
        spec = (config.get("tasks") or {}).get(parts[2]) or {}
        names = [spec.get("train_dataset", ""), spec.get("dataset", "")]
    names = [n for n in names if n in DATASETS]
    restricted = [n for n in names if not on_public_remote(n)]
    if restricted:
        return restricted[0]
    return names[0] if names else None


def failed_paths(output: str) -> list[str]:
    """The targets DVC names after "Checkout failed for following targets:"."""
    match = re.search(
        r"Checkout failed for following targets:\n(.*?)(?:\nIs your cache|\Z)", output, re.S
    )
    if not match:
        return []
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def pull(root: Path, datasets: list[str], remote: str | None) -> tuple[int, str, list[str]]:
    """Run `dvc pull` for the datasets' outputs (all outputs without ``datasets``). Returns the
    exit status, DVC's own output and the sentences to print after it."""
    unknown = [d for d in datasets if d not in DATASETS]
    if unknown:
        raise MosaiqError(f"unknown dataset {', '.join(unknown)}: one of {', '.join(DATASETS)}")
    name = remote or default_remote(root)
    sentences: list[str] = []
    wanted = list(datasets)
    if name == PUBLIC_REMOTE:
        for ds in [d for d in wanted if not on_public_remote(d)]:
            sentences.append(restricted_sentence(ds))
            wanted.remove(ds)
        if datasets and not wanted:
            return 1, "", sentences
    outs = cached_outputs(root)
    targets = [o for o in outs if owner_of(root, o) in wanted] if datasets else []
    if datasets and not targets:
        return (
            0,
            f"nothing to pull for {', '.join(wanted)}: no DVC output in the cache\n",
            sentences,
        )
    proc = _dvc(root, "pull", *(["-r", remote] if remote else []), *targets)
    output = proc.stdout + proc.stderr
    failed = failed_paths(output)
    by_dataset: dict[str | None, list[str]] = {}
    for path in failed:
        by_dataset.setdefault(owner_of(root, path), []).append(path)
    for owner, paths in sorted(by_dataset.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        if owner is not None and name == PUBLIC_REMOTE and not on_public_remote(owner):
            sentences.append(restricted_sentence(owner))
        else:
            sentences.append(missing_sentence(owner, name, paths))
    status = proc.returncode or (1 if sentences and datasets else 0)
    return status, output, sentences
