"""``mosaiq release X.Y.Z``: cut a benchmark release, or say (``--check``) what blocks one.

A release is refused, with every reason, unless: the git work tree is clean; ``dvc status`` is
clean; the validation report is current and passing; every dataset is built; every DVC output
is in the default remote (checked with ``dvc status --cloud``, never by trusting ``dvc push``'s
exit code, which is 0 even when cache files are missing).

A release then sets the version (params.yaml, which the datapackage descriptors take it from,
pyproject.toml and CITATION.cff), re-runs the pipeline, pushes, checks the remote again, writes
the manifest ``releases/vX.Y.Z.json`` (every published file: path, size, md5, sha256, rows,
schema version, source versions), turns the CHANGELOG's Unreleased section into the release's,
commits, and makes the annotated tag ``vX.Y.Z``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from mosaiq.errors import MosaiqError
from mosaiq.settings import DATASETS, data_version, load_params

VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
RELEASES = Path("releases")


def _bin(name: str) -> str:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else name


def _run(cmd: list[str], root: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DVC_NO_ANALYTICS": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise MosaiqError(
            f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{(proc.stderr or proc.stdout).strip()}"
        )
    return proc


def _dvc_json(args: list[str], root: Path) -> Any:
    proc = _run([_bin("dvc"), *args, "--json"], root, check=False)
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip()}
    text = proc.stdout.strip()
    return json.loads(text) if text else {}


def blockers(root: Path) -> list[str]:
    """Everything that prevents a release now (empty: a release can be cut)."""
    from mosaiq.layout import BUILT, read_descriptor
    from mosaiq.validate import REPORT_PATH

    problems = []
    dirty = _run(["git", "status", "--porcelain"], root).stdout.strip()
    if dirty:
        first = dirty.splitlines()[:5]
        problems.append(
            "the git work tree is not clean: "
            + "; ".join(first)
            + (" ..." if len(dirty.splitlines()) > 5 else "")
        )
    status = _dvc_json(["status"], root)
    if status:
        stages = ", ".join(sorted(status)) if "error" not in status else status["error"]
        problems.append(f"`dvc status` is not clean (changed: {stages}); run `dvc repro`")
    report_path = root / REPORT_PATH
    if not report_path.is_file():
        problems.append(f"no validation report ({REPORT_PATH}); run `dvc repro`")
    else:
        report = json.loads(report_path.read_text())
        if not report.get("valid"):
            problems.append(f"the validation report says invalid ({REPORT_PATH})")
        elif status and "validate" in status:
            problems.append("the validation report is not current (stage validate changed)")
    for ds in DATASETS:
        descriptor = read_descriptor(root, ds)
        state = (descriptor or {}).get("mosaiq", {}).get("build_status", "no package")
        if state != BUILT:
            problems.append(f"{ds} is not built ({state})")
    cloud = _dvc_json(["status", "--cloud"], root)
    if cloud:
        if "error" in cloud:
            problems.append(f"cannot check the default remote: {cloud['error']}")
        else:
            missing = sorted(cloud)  # {output path: state} (new, modified, deleted, ...)
            shown = ", ".join(f"{p} ({cloud[p]})" for p in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            problems.append(
                f"{len(missing)} DVC outputs are not in the default remote: {shown}{more}"
                "; run `dvc push`"
            )
    return problems


def published_files(root: Path) -> list[Path]:
    """The files a release publishes: packages (tables, schemas, descriptors, feature records and
    arrays), the catalogue, the validation report and the exports."""
    out: list[Path] = []
    for ds in DATASETS:
        pkg = root / "datasets" / ds
        out.append(pkg / "datapackage.yaml")
        for sub in ("data", "schemas", "features"):
            if (pkg / sub).is_dir():
                out += [
                    p
                    for p in sorted((pkg / sub).rglob("*"))
                    if p.is_file() and p.name != ".gitignore"
                ]
    for sub in ("catalogue/data", "catalogue/schemas", "exports"):
        if (root / sub).is_dir():
            out += [
                p for p in sorted((root / sub).rglob("*")) if p.is_file() and p.name != ".gitignore"
            ]
    out += [root / "catalogue/datapackage.yaml", root / "reports/validation.json"]
    return [p for p in out if p.is_file()]


def manifest(root: Path, version: str) -> dict[str, Any]:
    from mosaiq.layout import file_digest, read_descriptor, relative_path

    sources = {}
    for ds in DATASETS:
        meta = (read_descriptor(root, ds) or {}).get("mosaiq", {})
        sources[ds] = [
            {"file": r["file"], "sha256": r["sha256"], "rows": r["rows"]}
            for r in meta.get("raw_inputs", [])
        ]
    files = []
    for path in published_files(root):
        entry: dict[str, Any] = {
            "path": relative_path(root, path),
            "bytes": path.stat().st_size,
            "md5": file_digest(path, "md5"),
            "sha256": file_digest(path),
        }
        if path.suffix == ".csv":
            with path.open("rb") as fh:
                entry["rows"] = max(0, sum(1 for _ in fh) - 1)
        files.append(entry)
    return {
        "version": version,
        "schema_version": version,
        "date": str(date.today()),
        "source_versions": sources,
        "files": files,
    }


def _set_versions(root: Path, version: str) -> None:
    params = root / "params.yaml"
    text = params.read_text()
    new, n = re.subn(r"(?m)^version: .*$", f"version: {version}", text, count=1)
    if n != 1:
        raise MosaiqError("params.yaml has no top-level 'version:' line")
    params.write_text(new)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        pyproject.write_text(
            re.sub(
                r'(?m)^version = ".*"$', f'version = "{version}"', pyproject.read_text(), count=1
            )
        )
    lock = root / "uv.lock"
    if lock.is_file():  # the project's own entry, as `uv lock` would write it
        lock.write_text(
            re.sub(
                r'(?m)^(\[\[package\]\]\nname = "mosaiq"\nversion = )".*"$',
                rf'\g<1>"{version}"',
                lock.read_text(),
                count=1,
            )
        )
    cff = root / "CITATION.cff"
    if cff.is_file():
        text = re.sub(r"(?m)^version: .*$", f"version: {version}", cff.read_text(), count=1)
        if re.search(r"(?m)^date-released: ", text):
            text = re.sub(r"(?m)^date-released: .*$", f"date-released: {date.today()}", text)
        else:
            text = text.replace(
                f"version: {version}\n", f"version: {version}\ndate-released: {date.today()}\n", 1
            )
        cff.write_text(text)


def _changelog(root: Path, version: str) -> None:
    path = root / "CHANGELOG.md"
    text = path.read_text() if path.is_file() else "# Changelog\n\n## [Unreleased]\n"
    if "## [Unreleased]" not in text:
        raise MosaiqError("CHANGELOG.md has no '## [Unreleased]' section to release")
    path.write_text(
        text.replace("## [Unreleased]", f"## [Unreleased]\n\n## [{version}] - {date.today()}", 1)
    )


def release(root: Path, version: str, *, push: bool = True) -> str:
    if not VERSION.match(version):
        raise MosaiqError(f"version {version!r} is not X.Y.Z")
    tag = f"v{version}"
    if _run(["git", "tag", "--list", tag], root).stdout.strip():
        raise MosaiqError(f"tag {tag} exists already")
    current = data_version(load_params(root))
    if tuple(map(int, version.split("."))) <= tuple(map(int, current.split("."))):
        raise MosaiqError(f"version {version} is not above the current {current}")
    problems = blockers(root)
    if problems:
        raise MosaiqError("cannot release:\n" + "\n".join(f"- {p}" for p in problems))
    _set_versions(root, version)
    _run([_bin("dvc"), "repro"], root)
    report = json.loads((root / "reports/validation.json").read_text())
    if not report.get("valid"):
        raise MosaiqError("validation failed after setting the version; nothing was tagged")
    if push:
        _run([_bin("dvc"), "push"], root)
    cloud = _dvc_json(["status", "--cloud"], root)
    if cloud:
        raise MosaiqError(
            f"after `dvc push`, the default remote still misses outputs: "
            f"{sorted(cloud)[:5]}; nothing was tagged"
        )
    target = root / RELEASES / f"{tag}.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(manifest(root, version), indent=2) + "\n")
    _changelog(root, version)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-q", "-m", f"Release {tag}"], root)
    _run(["git", "tag", "-a", tag, "-m", f"MOSAIQ benchmark {tag}"], root)
    return tag
