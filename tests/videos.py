"""Synthetic test videos whose frames carry their own index (10 black/white bars = 10 bits),
so a test can tell exactly which frame a decoder returned, through lossy compression."""

from __future__ import annotations

import fractions
from pathlib import Path

import numpy as np

W, H = 160, 96
BITS = 10


def frame_image(i: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    for b in range(BITS):
        if (i >> b) & 1:
            img[:, b * 16 : (b + 1) * 16] = 255
    img[:, BITS * 16 :, 1] = 90  # a constant tint, so that frames are not pure black and white
    return img


def frame_index(img: np.ndarray) -> int:
    return sum(1 << b for b in range(BITS) if img[:, b * 16 + 4 : (b + 1) * 16 - 4].mean() > 127)


def write_h264(
    path: Path,
    n: int,
    *,
    fps: int = 25,
    pts_ms: list[int] | None = None,
    gop: int = 50,
    bframes: int = 0,
) -> None:
    """H.264 in MP4 via PyAV: constant rate ``fps``, or variable with explicit ``pts_ms``;
    ``bframes`` B-frames between references (frames then arrive out of display order)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"g": str(gop), "crf": "18", "preset": "ultrafast"}
        if bframes:
            stream.options = {**stream.options, "bf": str(bframes), "x264-params": "b-adapt=0"}
        if pts_ms is not None:
            stream.time_base = fractions.Fraction(1, 1000)
            stream.codec_context.time_base = fractions.Fraction(1, 1000)
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(frame_image(i), format="rgb24")
            if pts_ms is not None:
                frame.pts = int(pts_ms[i])
                frame.time_base = fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def write_mp4v(path: Path, n: int, fps: int = 25) -> None:
    """MPEG-4 Part 2 ('mp4v') via OpenCV's writer, constant rate."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
    assert writer.isOpened()
    for i in range(n):
        writer.write(cv2.cvtColor(frame_image(i), cv2.COLOR_RGB2BGR))
    writer.release()


def vfr_pts(n: int, seed: int = 0) -> list[int]:
    """Irregular frame times in ms (frame durations of 20, 33, 50 and 80 ms)."""
    rng = np.random.default_rng(seed)
    steps = rng.choice([20, 33, 50, 80], size=n)
    return [0, *np.cumsum(steps)[:-1].tolist()]
