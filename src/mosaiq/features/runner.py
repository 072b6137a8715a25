"""One machinery for every feature: a reader, an encoder and a writer (as in clip-retrieval).

- A :class:`Reader` turns one :class:`Job` (a clip, its media asset and segment) into
  :class:`Decoded` inputs: the model inputs of its frames or audio windows, the record fields and
  provenance known from reading (frame times). It raises :class:`AssetError` for media that is
  missing, unreadable or refused; any other error stops the run.
- An :class:`Encoder` turns a batch of decoded clips into one value per clip: a fixed-dimension
  vector (CLIP or CLAP embeddings; stored as arrays) or a dict (named scalar columns such as
  acoustic indicators, or a nested summary; stored as JSON).
- The :class:`~mosaiq.features.writer.FeatureWriter` stores values and records, saves
  checkpoints and resumes (see ``writer.py``).

:func:`run_feature` wires them: the reader runs in a thread that fills a bounded queue (decoding
releases the GIL), the calling thread encodes full batches and hands the values to the writer,
which saves a checkpoint every ``checkpoint_every`` clips. A new feature is a reader and an
encoder, not a copy of this loop.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.features.frames import AssetError
from mosaiq.features.writer import FeatureWriter

Value = np.ndarray | Mapping[str, Any]  # a vector, or named values


@dataclass(frozen=True)
class Job:
    """One clip to compute: its id, its media asset (relative to the media root) and segment."""

    clip_id: str
    asset: str | None = None
    start_s: float | None = None
    end_s: float | None = None


@dataclass
class Decoded:
    """What a reader made of one clip.

    ``inputs`` is what the encoder consumes (a tensor of ``n`` preprocessed frames, ``n`` audio
    windows, label maps); ``n`` counts them for batching. ``fields`` are record fields known from
    reading (``frame_time_s``, ``n_frames``...) and ``provenance`` the clip's own provenance
    (which frames or windows were used).
    """

    clip_id: str
    inputs: Any
    n: int = 1
    fields: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)


class Reader(Protocol):
    def __call__(self, job: Job) -> Decoded: ...


class Encoder(Protocol):
    def encode(self, batch: Sequence[Decoded]) -> Sequence[Value]: ...


@dataclass
class Summary:
    """What a run did; ``lines()`` is what the command prints."""

    dataset: str
    feature: str
    total: int = 0
    done: int = 0
    already: int = 0
    no_asset: int = 0
    media: str | None = None  # "video", "audio"; None for features keyed by clip id only
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (clip_id, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0  # since the summary was made (the run's start)
    listed: int = 50  # skipped clips listed one by one, at most
    workers: dict[str, tuple[int, float]] = field(default_factory=dict)  # clips, busy seconds
    workers_lost: int = 0  # workers that left a cluster run (their shards ran again)
    started: float = field(default_factory=time.perf_counter, repr=False)

    def finish(self) -> Summary:
        self.seconds = time.perf_counter() - self.started
        return self

    def media_failed(self, clip_id: str, exc: AssetError, skip_missing: bool) -> bool:
        """Count a clip whose media cannot be used: skipped when ``skip_missing`` allows it (a
        refused asset never is), failed otherwise; whether the run stops at it."""
        if exc.kind == "refused" or not skip_missing:
            self.failed.append((clip_id, str(exc)))
            return True
        self.skipped.append((clip_id, f"{exc.kind}: {exc}"))
        return False

    @property
    def missing(self) -> list[str]:
        return [cid for cid, why in self.skipped if why.startswith("missing")]

    def lines(self) -> list[str]:
        rate = self.done / self.seconds if self.seconds > 0 else 0.0
        without = f"{self.no_asset} clips without a {self.media} asset, " if self.media else ""
        out = [
            f"{self.dataset} {self.feature}: {self.done} done, {self.already} already "
            f"recorded, {len(self.skipped)} skipped, {len(self.failed)} failed, "
            f"{without}{self.seconds:.1f} s ({rate:.1f} clips/s)"
        ]
        out += [f"  skipped {cid}: {why}" for cid, why in self.skipped[: self.listed]]
        rest = Counter(why.split(":", 1)[0] for _cid, why in self.skipped[self.listed :])
        if rest:
            more = "and " if self.listed else ""
            out.append(f"  {more}{sum(rest.values())} {'more ' if more else ''}skipped: ")
            out[-1] += ", ".join(f"{n} {kind}" for kind, n in sorted(rest.items()))
        out += [f"  failed {cid}: {why}" for cid, why in self.failed]
        for worker, (clips, busy) in self.workers.items():
            speed = f"{clips / busy:.1f} clips/s busy" if busy > 0 else "-"
            out.append(f"  worker {worker}: {clips} clips, {busy:.1f} s, {speed}")
        if self.workers_lost:
            out.append(f"  {self.workers_lost} workers lost during the run; their shards ran again")
        return out


class FeatureRunError(MosaiqError):
    """A run stopped by a clip's media; what finished before it is kept."""

    def __init__(self, summary: Summary, message: str) -> None:
        super().__init__(message)
        self.summary = summary

    @classmethod
    def stopped_at(
        cls, summary: Summary, clip_id: str, exc: AssetError, skip_hint: str
    ) -> FeatureRunError:
        """The error of a run stopped at ``clip_id``, saying what is kept."""
        return cls(
            summary,
            f"{summary.dataset} clip {clip_id}: {exc} (the {summary.done} clips finished "
            f"before it are kept{'; ' + skip_hint if skip_hint else ''})",
        )


def jobs_of(clips: pd.DataFrame, asset_column: str | None) -> list[Job]:
    """The jobs of a clips table: every clip, or those with an asset in ``asset_column``."""

    def num(value: Any) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    if asset_column is None:
        return [Job(str(cid)) for cid in clips["clip_id"]]
    with_asset = clips[clips[asset_column].notna()]
    return [
        Job(str(c), str(a), num(s), num(e))
        for c, a, s, e in with_asset[["clip_id", asset_column, "start_s", "end_s"]].itertuples(
            index=False
        )
    ]


def todo(jobs: list[Job], recorded: set[str], limit: int | None, summary: Summary) -> list[Job]:
    """The jobs whose clip has no record yet (at most ``limit``); counts the others."""
    pending = [j for j in jobs if j.clip_id not in recorded]
    summary.already = len(jobs) - len(pending)
    return pending if limit is None else pending[: max(0, int(limit))]


def run_feature(
    jobs: Iterable[Job],
    reader: Reader,
    encoder: Encoder,
    writer: FeatureWriter,
    summary: Summary,
    *,
    batch_units: int = 32,
    checkpoint_every: int = 512,
    skip_missing: bool = False,
    skip_hint: str = "",
    progress: Callable[[int], None] | None = None,
    shard_size: int | None = None,
) -> Summary:
    """Read, encode and write every job; raise :class:`FeatureRunError` if a clip's media stops
    the run (a refused asset always does; missing or unreadable ones unless ``skip_missing``).

    With ``shard_size``, no batch spans two shards of that many jobs: the batches are those a
    cluster run makes (``distributed.py``), so the numbers are too."""
    advance = progress or (lambda n: None)
    items: queue.Queue[tuple[Job, Decoded | None, BaseException | None] | None] = queue.Queue(
        maxsize=max(4, 2 * batch_units)
    )
    stop = threading.Event()
    thread = threading.Thread(
        target=_read_all, args=(list(jobs), reader, items, stop), name="mosaiq-reader", daemon=True
    )
    thread.start()
    batch: list[Decoded] = []
    error: tuple[str, AssetError] | None = None
    seen = 0

    def encode() -> None:  # a batch ends: a checkpoint when enough clips wait
        _encode(encoder, batch, writer, advance)
        batch.clear()
        if writer.pending >= checkpoint_every:
            summary.done += writer.flush()

    try:
        while (item := items.get()) is not None:
            job, decoded, exc = item
            if shard_size and seen and seen % shard_size == 0 and batch:  # a shard begins
                encode()
            seen += 1
            if isinstance(exc, AssetError):
                if summary.media_failed(job.clip_id, exc, skip_missing):
                    error = (job.clip_id, exc)
                    break
                advance(1)
                continue
            if exc is not None:
                raise exc
            assert decoded is not None
            batch.append(decoded)
            if sum(d.n for d in batch) >= batch_units:
                encode()
        if batch:  # the clips read before the end (or before an error) are kept
            encode()
        summary.done += writer.flush()
    finally:
        _stop(thread, items, stop)
        summary.finish()
    if error is not None:
        raise FeatureRunError.stopped_at(summary, *error, skip_hint)
    return summary


def _stop(thread: threading.Thread, items: queue.Queue[Any], stop: threading.Event) -> None:
    stop.set()
    while thread.is_alive():  # let the reader finish the item it holds
        try:
            items.get_nowait()
        except queue.Empty:
            thread.join(0.05)


def _read_all(
    jobs: list[Job],
    reader: Reader,
    items: queue.Queue[tuple[Job, Decoded | None, BaseException | None] | None],
    stop: threading.Event,
) -> None:
    for job in jobs:
        if stop.is_set():
            break
        try:
            items.put((job, reader(job), None))
        except Exception as exc:  # handed to the calling thread, which decides
            items.put((job, None, exc))
            if not isinstance(exc, AssetError):
                break
    items.put(None)


def _encode(
    encoder: Encoder, batch: list[Decoded], writer: FeatureWriter, advance: Callable[[int], None]
) -> None:
    values = encoder.encode(batch)
    if len(values) != len(batch):
        raise MosaiqError(f"the encoder returned {len(values)} values for {len(batch)} clips")
    for decoded, value in zip(batch, values, strict=True):
        # the writer keeps the record fields until a checkpoint, not the clip's frames or audio
        writer.add(replace(decoded, inputs=None), value)
    advance(len(batch))


class Progress:
    """A rich progress bar (clips/s), or nothing."""

    def __init__(self, enabled: bool, total: int, label: str) -> None:
        self._progress: Any = None
        if not enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as RichProgress

        class _Rate(TextColumn):
            def render(self, task: Any) -> Any:  # clips per second
                speed = task.finished_speed or task.speed
                return f"{speed:.1f} clips/s" if speed else "- clips/s"

        self._progress = RichProgress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            _Rate(""),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("clips", total=total)

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
