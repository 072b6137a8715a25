"""Frames from clip videos: where the file is, which frames, and decoding them exactly.

- :func:`resolve_asset` keeps every asset strictly inside the video root: absolute paths, ``..``
  and symbolic links that leave the root are refused.
- :func:`sample_times` turns a clip's segment into frame times: the centre
  ``t = (start_s + end_s) / 2``, or ``k`` uniformly spaced times (the centres of ``k`` equal
  parts of the segment) to be mean-pooled.
- :func:`decode_frames` returns, for each time, the frame *displayed* at that time: the last frame
  whose presentation timestamp is at or before it. Frame timestamps come from the container's
  packets (no decoding), so the frame index is exact for variable-frame-rate files too, and the
  decoder seeks to the keyframe before each target and decodes forward to it (OpenCV's
  ``CAP_PROP_POS_MSEC`` seeking assumes a constant rate and lands on the wrong frame in VFR
  files; see tests/test_frames.py).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from mosaiq.errors import MosaiqError

RULES = ("centre", "uniform")


class AssetError(MosaiqError):
    """A video asset that cannot be used (outside the root, missing, unreadable)."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind  # "refused" | "missing" | "unreadable"


def resolve_asset(root: Path, asset: str) -> Path:
    """The file of ``asset`` (a relative path), refusing anything that leaves ``root``."""
    if not asset or not str(asset).strip():
        raise AssetError("empty video asset", kind="missing")
    rel = PurePosixPath(str(asset).replace("\\", "/"))
    if rel.is_absolute() or Path(str(asset)).is_absolute():
        raise AssetError(
            f"video asset {asset!r} is an absolute path; assets are relative to the video root",
            kind="refused",
        )
    if ".." in rel.parts:
        raise AssetError(
            f"video asset {asset!r} contains '..'; assets must stay inside the video root",
            kind="refused",
        )
    base = root.resolve()
    candidate = base.joinpath(*rel.parts)
    resolved = candidate.resolve()
    if not resolved.is_relative_to(base):
        raise AssetError(
            f"video asset {asset!r} is a link that leaves the video root ({resolved})",
            kind="refused",
        )
    if not resolved.is_file():
        raise AssetError(f"video asset {asset!r} not found under {base}", kind="missing")
    return resolved


def sample_times(
    start_s: float | None, end_s: float | None, duration_s: float, rule: str, k: int = 1
) -> list[float]:
    """Frame times of a clip's segment; a missing start or end is the file's start or end."""
    start = 0.0 if start_s is None or math.isnan(start_s) else float(start_s)
    end = duration_s if end_s is None or math.isnan(end_s) else float(end_s)
    if end < start:
        raise MosaiqError(f"segment end {end} s is before its start {start} s")
    if rule == "centre":
        return [(start + end) / 2]
    if rule == "uniform":
        if k < 1:
            raise MosaiqError("uniform sampling needs k >= 1")
        step = (end - start) / k
        return [start + (j + 0.5) * step for j in range(k)]
    raise MosaiqError(f"unknown frame sampling rule {rule!r}; known: {', '.join(RULES)}")


@dataclass
class Frame:
    time_s: float  # presentation time of the frame used
    index: int  # its position in presentation order, from 0
    image: np.ndarray | None  # H x W x 3, uint8, RGB (None once it has been preprocessed)


def decode_frames(
    path: Path,
    times: list[float] | None = None,
    *,
    rule: str = "centre",
    k: int = 1,
    start_s: float | None = None,
    end_s: float | None = None,
) -> list[Frame]:
    """The frames displayed at ``times`` (or at the times of ``rule`` over the segment)."""
    from mosaiq.extras import require

    require("Decoding video frames", "av")
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise AssetError(f"{path.name}: cannot open as video ({exc})", kind="unreadable") from exc
    try:
        if not container.streams.video:
            raise AssetError(f"{path.name}: no video stream", kind="unreadable")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base)
        pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        if not pts:
            raise AssetError(f"{path.name}: no video frames", kind="unreadable")
        first = pts[0]
        last_frame_end = (pts[-1] - first) * tb + (
            (pts[-1] - pts[-2]) * tb if len(pts) > 1 else 0.0
        )
        if times is None:
            times = sample_times(start_s, end_s, last_frame_end, rule, k)
        wanted = []
        for t in times:
            target = first + t / tb
            i = max(0, bisect.bisect_right(pts, target + 1e-6) - 1)
            wanted.append(i)
        frames: dict[int, Frame] = {}
        for i in sorted(set(wanted)):
            if i in frames:
                continue
            frames[i] = _decode_one(container, stream, pts, i, first, tb)
        return [frames[i] for i in wanted]
    except av.error.FFmpegError as exc:
        raise AssetError(f"{path.name}: cannot decode ({exc})", kind="unreadable") from exc
    finally:
        container.close()


def _decode_one(container, stream, pts: list[int], i: int, first: int, tb: float) -> Frame:
    target = pts[i]
    container.seek(target, stream=stream, backward=True, any_frame=False)
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        if frame.pts >= target:
            if frame.pts != target:
                raise AssetError(
                    f"frame at pts {target} not found after seeking (got {frame.pts})",
                    kind="unreadable",
                )
            return Frame((target - first) * tb, i, frame.to_ndarray(format="rgb24"))
    raise AssetError(f"frame {i} (pts {target}) could not be decoded", kind="unreadable")


def decode_sequential(path: Path, time_s: float) -> np.ndarray:
    """The frame displayed at ``time_s``, decoding every frame from the start: the simple way,
    kept as the baseline of the benchmark."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base)
        chosen = None
        first = None
        for frame in container.decode(stream):
            first = frame.pts if first is None else first
            if (frame.pts - first) * tb > time_s + 1e-6:
                break
            chosen = frame
        if chosen is None:
            raise AssetError(f"{path.name}: no frame at {time_s} s", kind="unreadable")
        return chosen.to_ndarray(format="rgb24")
