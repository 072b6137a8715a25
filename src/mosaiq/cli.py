"""The ``mosaiq`` command line: thin commands that call the modules.

Nothing heavy is imported at module level, so ``mosaiq --help`` and ``mosaiq --version`` start
without pandas, numpy or torch; each command imports what it needs when it runs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from mosaiq.errors import MosaiqError

app = typer.Typer(
    name="mosaiq",
    help="MOSAIQ: build, validate and inspect the soundscape benchmark packages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Root = Annotated[
    Path | None,
    typer.Option("--root", help="Repository root (default: found from the working directory)."),
]


def _root(root: Path | None) -> Path:
    from mosaiq.settings import find_root

    return find_root(root)


def _version(value: bool) -> None:
    if value:
        from mosaiq import __version__

        typer.echo(f"mosaiq {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """MOSAIQ: build, validate and inspect the soundscape benchmark packages."""


@app.command()
def build(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    root: Root = None,
) -> None:
    """Build datasets/DATASET from its raw source (atomic: a failure keeps the old files)."""
    from mosaiq.build import build_dataset

    result = build_dataset(_root(root), dataset)
    if result.status != "built":
        typer.echo(f"{dataset}: {result.status} (warning): {result.note}")
        typer.echo(f"  files rewritten: {len(result.written)}")
        return
    c = result.counts
    typer.echo(
        f"{dataset}: {result.status}: {c.get('clips', 0):,} clips, "
        f"{c.get('responses', 0):,} responses, {c.get('exclusions', 0):,} exclusions "
        f"in {result.seconds:.2f} s"
    )
    for code, n in result.exclusions_by_reason.items():
        typer.echo(f"  excluded {code}: {n:,}")
    if result.note:
        typer.echo(f"  note: {result.note}")
    typer.echo(f"  files rewritten: {len(result.written)}")


@app.command()
def fetch(
    dataset: Annotated[str, typer.Argument(help="ARAUS, SATP or DeLTA.")],
    force: Annotated[bool, typer.Option("--force", help="Download even if present.")] = False,
    media: Annotated[
        bool,
        typer.Option("--media", help="The published audio archives, into media.DATASET.root."),
    ] = False,
    root: Root = None,
) -> None:
    """Download DATASET's official raw files into datasets/DATASET/raw/, checksum-verified."""
    from mosaiq.fetch import fetch as run_fetch
    from mosaiq.sources import committed

    for path, what in run_fetch(_root(root), dataset, force=force, media=media):
        typer.echo(f"{path.name}: {what}")
    if media:
        group = "acoustics" if committed(dataset) else "acoustics-local"  # dvc.yaml's groups
        typer.echo(f"now run `mosaiq media {dataset}`, then `dvc repro --force {group}@{dataset}`")
    else:
        typer.echo(f"now run `dvc repro` to build {dataset}")


@app.command(name="catalogue")
def catalogue_cmd(root: Root = None) -> None:
    """Build the catalogue: facts of every source with counts measured from the packages."""
    from mosaiq.catalogue import build_catalogue

    path = build_catalogue(_root(root))
    typer.echo(f"catalogue written: {path}")


app.command(name="build-catalogue", hidden=True)(catalogue_cmd)


@app.command()
def validate(
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Where to write the JSON report (default: reports/validation.json)."
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets.")
    ] = None,
    root: Root = None,
) -> None:
    """Validate every package (Table Schema + semantic checks); non-zero exit on any error.

    With --dataset the run is partial: it writes a report only where --report says, never over
    the pipeline's full report."""
    from mosaiq.validate import validate_all, write_report

    base = _root(root)
    started = time.perf_counter()
    result = validate_all(base, dataset)
    elapsed = time.perf_counter() - started
    path: Path | str
    if dataset and report is None:
        path = "none written (partial run; --report PATH writes one)"
    else:
        path = write_report(base, result, report)
    for pkg in result.packages:
        n_err, n_warn = len(pkg.errors), len(pkg.warnings)
        rows = ", ".join(f"{k} {v:,}" for k, v in pkg.rows.items())
        typer.echo(
            f"{pkg.name:10} {pkg.status:10} {n_err} errors, {n_warn} warnings"
            + (f"  ({rows})" if rows else "")
        )
        for issue in pkg.errors[:10]:
            typer.echo(f"  error: {issue}")
        if n_err > 10:
            typer.echo(f"  ... {n_err - 10} more errors in {path}")
        for issue in pkg.warnings[:5]:
            typer.echo(f"  warning: {issue}")
    verdict = "passed" if result.valid else "FAILED"
    typer.echo(f"validation {verdict} in {elapsed:.2f} s; report: {path}")
    if not result.valid:
        raise typer.Exit(1)


@app.command()
def info(root: Root = None) -> None:
    """What is built here: status and counts per dataset, and the last validation."""
    import json

    from mosaiq.layout import REPORT_PATH, how_to_get, read_descriptor
    from mosaiq.pull import DATASETS, public_remote_line

    base = _root(root)
    report_path = base / REPORT_PATH
    report = json.loads(report_path.read_text()) if report_path.is_file() else None
    for ds in DATASETS:
        descriptor = read_descriptor(base, ds)
        if descriptor is None:
            typer.echo(f"{ds:6} not built: no package")
            typer.echo(f"       to get it: {how_to_get(ds)}")
            typer.echo(f"       public DVC remote: {public_remote_line(ds)}")
            continue
        meta = descriptor.get("mosaiq", {})
        status = meta.get("build_status", "unknown")
        counts = meta.get("counts", {})
        line = f"{ds:6} {status}"
        if counts:
            line += (
                f": {counts.get('clips', 0):,} clips, {counts.get('responses', 0):,} "
                f"responses, {counts.get('exclusions', 0):,} exclusions, "
                f"{counts.get('features', 0):,} features"
            )
        if status != "built":
            line += " (warning)"
        typer.echo(line)
        if status != "built":
            typer.echo(f"       to get it: {how_to_get(ds)}")
        typer.echo(f"       public DVC remote: {public_remote_line(ds)}")
        for raw in meta.get("raw_inputs", []):
            typer.echo(
                f"       raw: {raw['file']} sha256 {raw['sha256'][:12]}... ({raw['rows']:,} rows)"
            )
    if report is None:
        typer.echo("validation: no report yet (run `mosaiq validate`)")
    else:
        typer.echo(f"validation: {'passed' if report['valid'] else 'FAILED'} ({report_path})")


@app.command()
def pull(
    dataset: Annotated[
        list[str] | None, typer.Option("--dataset", "-d", help="Only these datasets.")
    ] = None,
    remote: Annotated[
        str | None, typer.Option("--remote", "-r", help="DVC remote (default: the default).")
    ] = None,
    root: Root = None,
) -> None:
    """`dvc pull` of the packages; says per dataset what to do when the remote lacks it."""
    from mosaiq.errors import MosaiqError
    from mosaiq.pull import pull as run_pull

    try:
        status, output, sentences = run_pull(_root(root), list(dataset or []), remote)
    except MosaiqError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if output:
        typer.echo(output.rstrip("\n"))
    for sentence in sentences:
        typer.echo(sentence)
    raise typer.Exit(status)


features_app = typer.Typer(
    help="Features of the clips (CLIP and CLAP embeddings, acoustic indicators, "
    "segmentation summaries) as FeatureRecords.",
    no_args_is_help=True,
)
app.add_typer(features_app, name="features")


_MODE_HELP = "append: only clips without a record for this feature definition; overwrite: rebuild."
_SKIP_MEDIA = typer.Option(
    "--skip-missing-media",
    help="Skip (and list) clips whose audio is missing or unusable instead of stopping.",
)
_NO_PROGRESS = typer.Option("--no-progress", help="No progress bar (for logs and DVC stages).")
_WORKERS = typer.Option(
    help="Compute on a local Dask cluster of N worker processes "
    "(default: params.yaml compute.workers; 0 = in this process)."
)
_SCHEDULER = typer.Option(
    help="Compute on the running Dask cluster at this address, tcp://host:8786 "
    "(default: params.yaml compute.scheduler)."
)


def _feature_run(run: Any, root: Path | None, dataset: str, **options: Any) -> None:
    """Run a feature and print its summary; a run stopped by a clip prints it on stderr."""
    from mosaiq.features.runner import FeatureRunError

    try:
        summary = run(_root(root), dataset, **options)
    except FeatureRunError as exc:
        for line in exc.summary.lines():
            typer.echo(line, err=True)
        raise
    for line in summary.lines():
        typer.echo(line)


@features_app.command("clip")
def features_clip(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    mode: Annotated[str, typer.Option(help=_MODE_HELP)] = "append",
    limit: Annotated[int | None, typer.Option(help="At most N clips this run.")] = None,
    skip_missing_video: Annotated[
        bool,
        typer.Option(
            "--skip-missing-video",
            help="Skip (and list) missing or unreadable videos instead of stopping.",
        ),
    ] = False,
    no_progress: Annotated[bool, _NO_PROGRESS] = False,
    workers: Annotated[int | None, _WORKERS] = None,
    scheduler: Annotated[str | None, _SCHEDULER] = None,
    root: Root = None,
) -> None:
    """CLIP embeddings of the clips' video frames (settings: params.yaml clip, video)."""
    from mosaiq.features.clip import run

    _feature_run(
        run,
        root,
        dataset,
        mode=mode,
        limit=limit,
        skip_missing_video=skip_missing_video,
        progress=not no_progress,
        scheduler=scheduler,
        workers=workers,
    )


@features_app.command("acoustics")
def features_acoustics(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    mode: Annotated[str, typer.Option(help=_MODE_HELP)] = "append",
    limit: Annotated[int | None, typer.Option(help="At most N clips this run.")] = None,
    skip_missing_media: Annotated[bool, _SKIP_MEDIA] = False,
    no_progress: Annotated[bool, _NO_PROGRESS] = False,
    workers: Annotated[int | None, _WORKERS] = None,
    scheduler: Annotated[str | None, _SCHEDULER] = None,
    root: Root = None,
) -> None:
    """Acoustic indicators of the clips' audio, ISD names and units (params: acoustics, media)."""
    from mosaiq.features.acoustics import run_acoustics

    _feature_run(
        run_acoustics,
        root,
        dataset,
        mode=mode,
        limit=limit,
        skip_missing_media=skip_missing_media,
        progress=not no_progress,
        scheduler=scheduler,
        workers=workers,
    )


@features_app.command("clap")
def features_clap(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    mode: Annotated[str, typer.Option(help=_MODE_HELP)] = "append",
    limit: Annotated[int | None, typer.Option(help="At most N clips this run.")] = None,
    skip_missing_media: Annotated[bool, _SKIP_MEDIA] = False,
    no_progress: Annotated[bool, _NO_PROGRESS] = False,
    workers: Annotated[int | None, _WORKERS] = None,
    scheduler: Annotated[str | None, _SCHEDULER] = None,
    root: Root = None,
) -> None:
    """CLAP audio embeddings of the clips (settings: params.yaml clap, media)."""
    from mosaiq.features.clap import run_clap

    _feature_run(
        run_clap,
        root,
        dataset,
        mode=mode,
        limit=limit,
        skip_missing_media=skip_missing_media,
        progress=not no_progress,
        scheduler=scheduler,
        workers=workers,
    )


@features_app.command("cityseg")
def features_cityseg(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    mode: Annotated[str, typer.Option(help="append or overwrite.")] = "append",
    limit: Annotated[int | None, typer.Option(help="At most N clips this run.")] = None,
    workers: Annotated[int | None, _WORKERS] = None,
    scheduler: Annotated[str | None, _SCHEDULER] = None,
    root: Root = None,
) -> None:
    """Segmentation summaries (class proportions, group ratios) from per-clip label maps."""
    from mosaiq.features.cityseg import run

    summary = run(
        _root(root), dataset, mode=mode, limit=limit, scheduler=scheduler, workers=workers
    )
    for line in summary.lines():
        typer.echo(line)


@app.command(name="media")
def media_cmd(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    root: Root = None,
) -> None:
    """Which clips resolve to a usable audio file (headers only; computes nothing)."""
    from mosaiq.features.audio import media_report

    for line in media_report(_root(root), dataset):
        typer.echo(line)


@features_app.command("collect")
def features_collect(
    dataset: Annotated[str, typer.Argument(help="ISD, ARAUS, SATP or DeLTA.")],
    root: Root = None,
) -> None:
    """Merge the dataset's feature record files into data/features.csv."""
    from mosaiq.features.store import collect

    path, n = collect(_root(root), dataset)
    typer.echo(f"{dataset}: {n:,} feature records in {path}")


@app.command(name="export")
def export_cmd(
    what: Annotated[
        list[str] | None,
        typer.Argument(help="parquet, croissant, cards (default: all three)."),
    ] = None,
    root: Root = None,
) -> None:
    """Write exports/: Parquet tables with a dataset card, Croissant metadata, data cards."""
    from mosaiq import export

    base = _root(root)
    chosen = what or ["parquet", "croissant", "cards"]
    unknown = sorted(set(chosen) - {"parquet", "croissant", "cards"})
    if unknown:
        raise MosaiqError(f"unknown export {unknown}; choose parquet, croissant or cards")
    if "parquet" in chosen:
        typer.echo(f"parquet: {len(export.export_parquet(base))} files in exports/parquet")
    if "croissant" in chosen:
        typer.echo(f"croissant: {export.export_croissant(base)}")
    if "cards" in chosen:
        typer.echo(f"data cards: {len(export.export_cards(base))} in exports/cards")


@app.command(name="release")
def release_cmd(
    version: Annotated[str | None, typer.Argument(help="X.Y.Z")] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Say what would block a release; change nothing.")
    ] = False,
    root: Root = None,
) -> None:
    """Cut benchmark release X.Y.Z (manifest, changelog, versions, commit, tag vX.Y.Z)."""
    from mosaiq import release

    base = _root(root)
    if check or version is None:
        problems = release.blockers(base)
        for p in problems:
            typer.echo(f"blocked: {p}")
        if problems:
            raise typer.Exit(1)
        typer.echo("nothing blocks a release")
        return
    tag = release.release(base, version)
    typer.echo(f"released {tag}: push the tag with `git push origin {tag}`")


@app.command()
def tasks(root: Root = None) -> None:
    """List the benchmark tasks (benchmark/tasks.yaml)."""
    from mosaiq.benchmark.tasks import load_tasks

    config = load_tasks(_root(root))
    typer.echo(f"benchmark tasks, version {config['version']}:")
    for name, t in config["tasks"].items():
        typer.echo(
            f"  {name:24} {t['dataset']:6} {t['unit']:14} split {t['split']:15} "
            f"{len(t['targets'])} target(s)"
        )


@app.command()
def splits(root: Root = None) -> None:
    """Write the benchmark splits (benchmark/splits/*.csv and SHA256SUMS)."""
    from mosaiq.benchmark.splits import write_splits

    for name, frame in write_splits(_root(root)).items():
        parts = frame["split"].value_counts().to_dict() if len(frame) else {}
        typer.echo(
            f"{name:16} {len(frame):7,} units  train {parts.get('train', 0):,}  "
            f"test {parts.get('test', 0):,}"
        )


@app.command()
def baselines(
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Only these.")] = None,
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples.")] = None,
    root: Root = None,
) -> None:
    """Run every baseline of every task; write results, predictions and the leaderboard."""
    from mosaiq.benchmark.baselines import run_all

    started = time.perf_counter()
    results = run_all(_root(root), bootstrap=bootstrap, tasks=task)
    for name, r in results.items():
        done = [b for b, v in r.get("baselines", {}).items() if v.get("status") == "ok"]
        typer.echo(
            f"{name:24} {r.get('status')}: {r.get('n_test', 0):,} test units, "
            f"baselines {', '.join(done) or '-'}"
        )
    typer.echo(f"all baselines in {time.perf_counter() - started:.1f} s")


@app.command()
def evaluate(
    predictions: Annotated[Path, typer.Argument(help="CSV: unit_id + one column per target.")],
    task: Annotated[str, typer.Option("--task", "-t", help="The task to score.")],
    bootstrap: Annotated[int | None, typer.Option(help="Bootstrap resamples.")] = None,
    root: Root = None,
) -> None:
    """Check a submission for TASK, score it, print its metrics beside the baselines'."""
    from mosaiq.benchmark.evaluate import evaluate as run_evaluate
    from mosaiq.benchmark.evaluate import table

    report = run_evaluate(_root(root), predictions, task, bootstrap=bootstrap)
    typer.echo(table(report))


@app.command()
def plots(root: Root = None) -> None:
    """Draw the benchmark figures (benchmark/plots/*.png)."""
    from mosaiq.benchmark.plots import make_all

    made = make_all(_root(root))
    typer.echo(f"{len(made)} figures in benchmark/plots")


@app.command()
def leaderboard(
    readme: Annotated[bool, typer.Option("--readme", help="Also update README.md.")] = False,
    root: Root = None,
) -> None:
    """Print benchmark/leaderboard.md (and put it into the README with --readme)."""
    from mosaiq.benchmark.baselines import LEADERBOARD, update_readme

    base = _root(root)
    typer.echo((base / LEADERBOARD).read_text(), nl=False)
    if readme and not update_readme(base):
        raise MosaiqError("README.md has no leaderboard markers")


@app.command(name="db")
def db_cmd(root: Root = None) -> None:
    """Build exports/mosaiq.db (SQLite) and its Datasette metadata from the packages."""
    from mosaiq.db import build_database

    started = time.perf_counter()
    db, meta = build_database(_root(root))
    typer.echo(f"database written: {db} ({time.perf_counter() - started:.1f} s); metadata: {meta}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind (default: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    root: Root = None,
) -> None:
    """Browse the catalogue, the packages and the benchmark in a web browser (Datasette)."""
    from mosaiq.serve import serve as run_server

    typer.echo(f"MOSAIQ at http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(_root(root), host=host, port=port)


def help_text() -> str:
    """``mosaiq --help`` as the command line renders it on a terminal of 80 columns or more."""
    import os
    import subprocess

    code = "import sys; sys.argv = ['mosaiq', '--help']; from mosaiq.cli import main; main()"
    env = {**os.environ, "COLUMNS": "80"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return proc.stdout


def write_help() -> Path:
    """Write :func:`help_text` into ``mosaiq/_help.py``, which ``mosaiq --help`` prints."""
    target = Path(__file__).with_name("_help.py")
    import json

    body = "".join(f"    {json.dumps(line)}\n" for line in help_text().splitlines(keepends=True))
    target.write_text(
        '"""``mosaiq --help``, written by ``mosaiq.cli.write_help()`` (a test checks it)."""\n\n'
        f"HELP = (\n{body})\n",
        encoding="utf-8",
    )
    return target


def main() -> None:
    try:
        app()
    except MosaiqError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
