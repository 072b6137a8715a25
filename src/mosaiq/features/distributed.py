"""Feature runs on a Dask cluster, byte-identical to a run in one process.

Any feature that is a reader and an encoder (``runner.py``) runs here unchanged: it hands over
:class:`Parts`, a small picklable recipe that builds its reader, encoder and the provenance the
encoder adds (model, device...). The cluster is Dask distributed: a ``LocalCluster`` with N
worker processes (``--workers N``) or one that is already running (``--scheduler
tcp://host:8786``; a SLURM job array through ``dask-jobqueue``, a Kubernetes deployment through
``dask-kubernetes``).

- The pending clips are cut into shards of ``compute.shard_size`` clips in their fixed order; a
  task reads and encodes one shard (batches never cross a shard, in one process too, so the
  batches, and so the numbers, are the same whatever runs them).
- A worker builds its parts once and keeps them (:func:`built`, keyed by the parts' key): model
  weights are loaded once per worker process, never shipped with a task.
- Results stream back per shard (``as_completed``); the client merges them in shard order into
  the one :class:`~mosaiq.features.writer.FeatureWriter`, holding at most ``window`` shards
  ahead of the next one to merge, and saves a checkpoint every ``checkpoint_every`` clips, at a
  shard's end. A client killed mid-run resumes from the last saved checkpoint; a worker killed
  mid-run has its tasks run again elsewhere by the scheduler.
- A clip whose media is missing, unreadable or refused fails that clip only, reported as in one
  process; any other error stops the run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from mosaiq.errors import MosaiqError
from mosaiq.features.frames import AssetError
from mosaiq.features.runner import Decoded, Encoder, FeatureRunError, Job, Reader, Summary, Value
from mosaiq.settings import param

if TYPE_CHECKING:
    from distributed import Client

    from mosaiq.features.writer import FeatureWriter


class Parts(Protocol):
    """A feature's recipe for its reader and encoder, sent to the workers (small: paths and
    settings, never weights)."""

    @property
    def key(self) -> str:
        """Identifies what :meth:`build` builds (a worker keeps one build per key)."""
        ...

    def build(self) -> tuple[Reader, Encoder, dict[str, Any]]:
        """The reader, the encoder and the provenance the encoder adds to every record."""
        ...


@dataclass(frozen=True)
class Compute:
    """Where a feature run computes: in this process, or on a Dask cluster."""

    scheduler: str | None = None  # address of a running scheduler, tcp://host:8786
    workers: int = 0  # > 0: a LocalCluster with this many worker processes
    shard_size: int = 64  # clips per task
    timeout_s: float = 10.0  # to reach the scheduler

    @property
    def distributed(self) -> bool:
        return bool(self.scheduler) or self.workers > 0

    @classmethod
    def from_params(
        cls, params: dict[str, Any], *, scheduler: str | None = None, workers: int | None = None
    ) -> Compute:
        """params.yaml ``compute``, overridden by the command line's ``--scheduler``,
        ``--workers`` (either given on the command line replaces both defaults)."""
        node = dict(param(params, "compute", {}) or {})
        known = {k: node[k] for k in cls.__dataclass_fields__ if k in node}
        unknown = sorted(set(node) - set(known))
        if unknown:
            raise MosaiqError(f"params.yaml compute: unknown settings {unknown}")
        if scheduler is not None or workers is not None:
            known["scheduler"], known["workers"] = scheduler, workers or 0
        compute = cls(
            scheduler=str(known["scheduler"]) if known.get("scheduler") else None,
            workers=int(known.get("workers") or 0),
            shard_size=int(known.get("shard_size", 64)),
            timeout_s=float(known.get("timeout_s", 10.0)),
        )
        if compute.workers < 0 or compute.shard_size < 1:
            raise MosaiqError("compute.workers must be >= 0 and compute.shard_size >= 1")
        if compute.scheduler and compute.workers:
            raise MosaiqError("give a scheduler address or a number of workers, not both")
        return compute


# --- on a worker ---------------------------------------------------------------------------

_BUILT: dict[str, tuple[Reader, Encoder, dict[str, Any]]] = {}


def built(parts: Parts) -> tuple[Reader, Encoder, dict[str, Any]]:
    """The parts built in this process, once per key (the last key only: one model in memory)."""
    key = parts.key
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = parts.build()
    return _BUILT[key]


@dataclass
class ShardResult:
    """One shard computed: per clip, in order, its decoded record fields and value, or the
    media error (kind, message) that failed it."""

    outcomes: list[tuple[str, Decoded | None, Value | None, tuple[str, str] | None]]
    batch_ends: set[int]  # positions in ``outcomes`` whose clip closed a batch
    provenance: dict[str, Any]
    worker: str
    seconds: float


def encode_shard(
    reader: Reader, encoder: Encoder, jobs: Sequence[Job], batch_units: int, skip_missing: bool
) -> tuple[list[tuple[str, Decoded | None, Value | None, tuple[str, str] | None]], set[int]]:
    """Read and encode a shard in order, in batches of at least ``batch_units`` units (the same
    batches as :func:`~mosaiq.features.runner.run_feature` makes of this shard, which also
    stops at media that stops the run); the outcomes and where batches end."""
    out: list[tuple[str, Decoded | None, Value | None, tuple[str, str] | None]] = []
    batch: list[tuple[int, Decoded]] = []
    ends: set[int] = set()

    def encode() -> None:
        values = encoder.encode([d for _, d in batch])
        if len(values) != len(batch):
            raise MosaiqError(f"the encoder returned {len(values)} values for {len(batch)} clips")
        for (at, d), v in zip(batch, values, strict=True):
            out[at] = (d.clip_id, Decoded(d.clip_id, None, d.n, d.fields, d.provenance), v, None)
        ends.add(batch[-1][0])
        batch.clear()

    for job in jobs:
        try:
            decoded = reader(job)
        except AssetError as exc:
            out.append((job.clip_id, None, None, (exc.kind, str(exc))))
            if exc.kind == "refused" or not skip_missing:
                break
            continue
        out.append((job.clip_id, None, None, None))
        batch.append((len(out) - 1, decoded))
        if sum(d.n for _, d in batch) >= batch_units:
            encode()
    if batch:
        encode()
    return out, ends


def run_shard(
    parts: Parts, jobs: Sequence[Job], batch_units: int, skip_missing: bool
) -> ShardResult:
    """The task: one shard on a worker."""
    from distributed import get_worker

    reader, encoder, provenance = built(parts)
    started = time.perf_counter()
    outcomes, ends = encode_shard(reader, encoder, jobs, batch_units, skip_missing)
    seconds = time.perf_counter() - started
    return ShardResult(outcomes, ends, provenance, get_worker().address, seconds)


# --- on the client -------------------------------------------------------------------------


@dataclass
class WorkerStats:
    clips: int = 0
    seconds: float = 0.0


@dataclass
class _Cluster:
    client: Client
    cluster: Any = None
    stats: dict[str, WorkerStats] = field(default_factory=dict)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def connect(compute: Compute) -> _Cluster:
    """A client of the scheduler at ``compute.scheduler``, or of a new LocalCluster."""
    import logging

    from distributed import Client, LocalCluster

    if compute.scheduler:
        try:
            client = Client(compute.scheduler, timeout=compute.timeout_s)
        except (OSError, TimeoutError) as exc:
            raise MosaiqError(
                f"no Dask scheduler answers at {compute.scheduler} "
                f"(waited {compute.timeout_s:g} s; compute.scheduler or --scheduler): {exc}"
            ) from None
        return _Cluster(client)
    cluster = LocalCluster(
        n_workers=compute.workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )
    return _Cluster(Client(cluster), cluster)


def run_parts(
    pending: Sequence[Job],
    parts: Parts,
    writer: FeatureWriter,
    summary: Summary,
    compute: Compute,
    *,
    base_provenance: Mapping[str, Any],
    batch_units: int = 32,
    checkpoint_every: int = 512,
    skip_missing: bool = False,
    skip_hint: str = "",
    progress: Callable[[int], None] | None = None,
    window: int | None = None,
) -> Summary:
    """Run a feature's parts over ``pending``: in this process (``compute`` not distributed)
    or on the cluster, computing the shards there and merging them in order into ``writer``
    (at most ``window`` shards in flight or waiting to be merged); the same shards, batches
    and bytes either way."""
    if not compute.distributed:
        from mosaiq.features.runner import run_feature

        reader, encoder, provenance = parts.build()
        writer.provenance = {**provenance, **base_provenance}
        return run_feature(
            pending,
            reader,
            encoder,
            writer,
            summary,
            batch_units=batch_units,
            checkpoint_every=checkpoint_every,
            skip_missing=skip_missing,
            skip_hint=skip_hint,
            progress=progress,
            shard_size=compute.shard_size,
        )
    from distributed import as_completed
    from distributed.client import FutureCancelledError
    from distributed.scheduler import KilledWorker

    shards = shards_of(pending, compute.shard_size)
    advance = progress or (lambda n: None)
    cluster = connect(compute)
    client = cluster.client
    at_start = set(client.scheduler_info().get("workers", {}))
    n_workers = max(1, len(at_start), compute.workers)
    window = window or 2 * n_workers + 2  # shards in flight or waiting to be merged, at most
    index: dict[str, int] = {}
    inflight: dict[str, Any] = {}
    buffer: dict[int, ShardResult] = {}
    completed = as_completed()
    state = {"submitted": 0, "merged": 0}
    error: tuple[str, AssetError] | None = None

    def submit() -> None:
        while state["submitted"] < len(shards) and state["submitted"] - state["merged"] < window:
            i = state["submitted"]
            future = client.submit(
                run_shard, parts, list(shards[i]), batch_units, skip_missing, pure=False
            )
            index[str(future.key)] = i
            inflight[str(future.key)] = future
            completed.add(future)
            state["submitted"] += 1

    try:
        submit()
        for future in completed:
            try:
                result: ShardResult = future.result()
            except KilledWorker as exc:
                raise MosaiqError(
                    f"{summary.dataset} {summary.feature}: a shard killed its workers "
                    f"repeatedly ({exc}); the {summary.done} clips merged before are kept"
                ) from None
            except FutureCancelledError:
                continue
            inflight.pop(str(future.key), None)
            future.release()
            buffer[index.pop(str(future.key))] = result
            stats = cluster.stats.setdefault(result.worker, WorkerStats())
            stats.clips += len(result.outcomes)
            stats.seconds += result.seconds
            advance(len(result.outcomes))
            while state["merged"] in buffer and error is None:
                shard = buffer.pop(state["merged"])
                if state["merged"] == 0 or not writer.provenance:
                    writer.provenance = {**shard.provenance, **base_provenance}
                error = _merge(shard, writer, summary, skip_missing, checkpoint_every)
                state["merged"] += 1
            if error is not None:
                break
            submit()
        summary.done += writer.flush()
    finally:
        for future in inflight.values():
            future.cancel()
        summary.workers = {w: (s.clips, s.seconds) for w, s in sorted(cluster.stats.items())}
        # workers that left mid-run (killed, lost): their shards ran again elsewhere; nothing
        # to report when the scheduler itself is gone
        with contextlib.suppress(OSError, TimeoutError):
            summary.workers_lost = len(at_start - set(client.scheduler_info().get("workers", {})))
        cluster.close()
        summary.finish()
    if error is not None:
        raise FeatureRunError.stopped_at(summary, *error, skip_hint)
    return summary


def _merge(
    result: ShardResult,
    writer: FeatureWriter,
    summary: Summary,
    skip_missing: bool,
    checkpoint_every: int,
) -> tuple[str, AssetError] | None:
    """Add a shard's values in order, with the checkpoints a run in one process saves (after a
    batch, once ``checkpoint_every`` clips wait); the media error that stops the run, if any."""
    for at, (clip_id, decoded, value, failure) in enumerate(result.outcomes):
        if failure is not None:
            kind, message = failure
            exc = AssetError(message, kind=kind)
            if summary.media_failed(clip_id, exc, skip_missing):
                return clip_id, exc
            continue
        assert decoded is not None and value is not None
        writer.add(decoded, value)
        if at in result.batch_ends and writer.pending >= checkpoint_every:
            summary.done += writer.flush()
    return None


def shards_of(jobs: Sequence[Job], size: int) -> list[list[Job]]:
    """The jobs cut into shards of ``size``, in order."""
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]
