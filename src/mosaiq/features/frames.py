"""Frames from clip videos: where the file is, which frames, and decoding them exactly.

- :func:`resolve_asset` keeps every asset strictly inside the video root: absolute paths, ``..``
  and symbolic links that leave the root are refused.
- :func:`sample_times` turns a clip's segment into frame times: the centre
  ``t = (start_s + end_s) / 2``, or ``k`` uniformly spaced times (the centres of ``k`` equal
  parts of the segment) to be mean-pooled.
- :func:`decode_frames` returns, for each time, the frame *displayed* at that time: the last frame
  whose presentation timestamp is at or before it. Frame timestamps come from the container's
  packets (no decoding; only up to the last wanted time when the segment's end is known), so
  the frame index is exact for variable-frame-rate files too, and the decoder seeks to the
  keyframe before each target and decodes forward to it (OpenCV's ``CAP_PROP_POS_MSEC`` seeking
  assumes a constant rate and lands on the wrong frame in VFR files; see
  tests/features/test_frames.py).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

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
        if stream.time_base is None:
            raise AssetError(f"{path.name}: video stream without a time base", kind="unreadable")
        tb = float(stream.time_base)
        if times is None and _known(end_s):
            times = sample_times(start_s, end_s, 0.0, rule, k)
        pts = _presentation_times(container, stream, path, tb, times)
        first = pts[0]
        if times is None:  # the segment ends with the file: its duration is needed
            last_frame_end = (pts[-1] - first) * tb + (
                (pts[-1] - pts[-2]) * tb if len(pts) > 1 else 0.0
            )
            times = sample_times(start_s, end_s, last_frame_end, rule, k)
        wanted = [max(0, bisect.bisect_right(pts, first + t / tb + 1e-6) - 1) for t in times]
        frames: dict[int, Frame] = {}
        for i in sorted(set(wanted)):
            frames[i] = _decode_one(container, stream, pts, i, first, tb)
        return [frames[i] for i in wanted]
    except av.error.FFmpegError as exc:
        raise AssetError(f"{path.name}: cannot decode ({exc})", kind="unreadable") from exc
    finally:
        container.close()


def _known(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _presentation_times(
    container: Any, stream: Any, path: Path, tb: float, times: list[float] | None
) -> list[int]:
    """Sorted packet timestamps, read from the container without decoding: up to the last
    wanted time only (a packet's pts is never before its dts, and dts only grow, so every frame
    shown up to that time has been seen once a dts passes it), or all of them when the times
    depend on the file's duration."""
    pts: list[int] = []
    until: float | None = None
    for packet in container.demux(stream):
        if packet.pts is None:
            continue
        pts.append(packet.pts)
        if until is None and times is not None:
            until = pts[0] + max(times) / tb + 1e-6  # the first packet has the first pts
        if until is not None and packet.dts is not None and packet.dts > until:
            break
    if not pts:
        raise AssetError(f"{path.name}: no video frames", kind="unreadable")
    return sorted(pts)


def _decode_one(
    container: Any, stream: Any, pts: list[int], i: int, first: int, tb: float
) -> Frame:
    """Seek to the keyframe before frame ``i`` and decode forward to it. A frame shown before
    it that no other frame refers to (``skip_frame`` NONREF, decided by the decoder from the
    bitstream) cannot change it and is not decoded."""
    target = pts[i]
    container.seek(target, stream=stream, backward=True, any_frame=False)
    codec = stream.codec_context
    try:
        for packet in container.demux(stream):
            before = packet.pts is not None and packet.pts < target
            codec.skip_frame = "NONREF" if before else "DEFAULT"
            for frame in codec.decode(packet):
                if frame.pts is None or frame.pts < target:
                    continue
                if frame.pts != target:
                    raise AssetError(
                        f"frame at pts {target} not found after seeking (got {frame.pts})",
                        kind="unreadable",
                    )
                return Frame((target - first) * tb, i, frame.to_ndarray(format="rgb24"))
    finally:
        codec.skip_frame = "DEFAULT"
    raise AssetError(f"frame {i} (pts {target}) could not be decoded", kind="unreadable")
