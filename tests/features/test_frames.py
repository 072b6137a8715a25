"""Frame sampling and seeking, proved on synthetic videos whose frames carry their index."""

from __future__ import annotations

import bisect
import os

import numpy as np
import pytest

from mosaiq.features.frames import AssetError, decode_frames, resolve_asset, sample_times
from tests.videos import frame_index, vfr_pts, write_h264, write_mp4v


def test_centre_and_uniform_sampling():
    assert sample_times(10.0, 20.0, 99.0, "centre") == [15.0]
    assert sample_times(None, None, 8.0, "centre") == [4.0]
    assert sample_times(0.0, 10.0, 10.0, "uniform", 4) == [1.25, 3.75, 6.25, 8.75]


def test_constant_rate_h264_gives_the_displayed_frame(tmp_path):
    path = tmp_path / "cfr.mp4"
    write_h264(path, 250, fps=25, gop=50)
    times = [0.0, 0.039, 0.04, 1.99, 2.0, 5.123, 9.96]
    frames = decode_frames(path, times)
    for t, f in zip(times, frames, strict=True):
        expected = int(t * 25 + 1e-9)
        assert f.index == expected
        assert frame_index(f.image) == expected
        assert f.time_s == pytest.approx(expected / 25)


def test_variable_rate_h264_gives_the_displayed_frame_where_opencv_does_not(tmp_path):
    path = tmp_path / "vfr.mp4"
    pts = vfr_pts(300, seed=1)
    write_h264(path, 300, pts_ms=pts, gop=40)
    rng = np.random.default_rng(2)
    times = sorted(rng.uniform(0, pts[-1] / 1000, size=40).tolist())
    frames = decode_frames(path, times)
    for t, f in zip(times, frames, strict=True):
        expected = bisect.bisect_right(pts, t * 1000 + 1e-6) - 1
        assert f.index == expected
        assert frame_index(f.image) == expected
        assert f.time_s == pytest.approx(pts[expected] / 1000, abs=1e-3)

    # OpenCV's millisecond seek assumes a constant rate: on this file it lands elsewhere.
    import cv2

    cap = cv2.VideoCapture(str(path))
    wrong = 0
    for t in times:
        cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, bgr = cap.read()
        expected = bisect.bisect_right(pts, t * 1000 + 1e-6) - 1
        if not ok or frame_index(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)) != expected:
            wrong += 1
    cap.release()
    assert wrong > 0


@pytest.mark.parametrize("variable", [False, True])
def test_b_frames_out_of_display_order_give_the_displayed_frame(tmp_path, variable):
    """Timestamps are read only up to the wanted time when the segment's end is known: with
    B-frames (decode order differs from display order) the frames found are still exact, and
    the same as when every timestamp of the file is read (segment open at its end)."""
    import av

    path = tmp_path / "b.mp4"
    pts = vfr_pts(200, seed=3) if variable else [i * 40 for i in range(200)]
    write_h264(path, 200, pts_ms=pts if variable else None, gop=30, bframes=3)
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.video[0]) if p.pts is not None]
    assert any(p.pts != p.dts for p in packets), "the file has no B-frames"
    end = pts[-1] / 1000
    for start in (0.0, 0.5, 1.7, end / 2, end - 0.3):
        known = decode_frames(path, rule="uniform", k=3, start_s=start, end_s=end)
        wanted = sample_times(start, end, end, "uniform", 3)
        for t, f in zip(wanted, known, strict=True):
            expected = bisect.bisect_right(pts, t * 1000 + 1e-6) - 1
            assert f.index == expected and frame_index(f.image) == expected
    # with the end left open the duration is read from every timestamp: the same frames here
    # (the last frame's display time is within one frame of pts[-1])
    open_end = decode_frames(path, rule="centre", start_s=1.0)
    closed = decode_frames(path, rule="centre", start_s=1.0, end_s=end + (pts[-1] - pts[-2]) / 1000)
    assert [f.index for f in open_end] == [f.index for f in closed]
    times = sorted(np.random.default_rng(4).uniform(0, end, size=25).tolist())
    for t, f in zip(times, decode_frames(path, times), strict=True):
        expected = bisect.bisect_right(pts, t * 1000 + 1e-6) - 1
        assert f.index == expected and frame_index(f.image) == expected


def test_mp4v_written_by_opencv(tmp_path):
    path = tmp_path / "mp4v.mp4"
    write_mp4v(path, 100, fps=20)
    frames = decode_frames(path, rule="uniform", k=4, start_s=1.0, end_s=3.0)
    # the centres of four equal parts of [1, 3] s: 1.25, 1.75, 2.25, 2.75 s -> frames at 20 fps
    assert [f.index for f in frames] == [25, 35, 45, 55]
    assert [frame_index(f.image) for f in frames] == [25, 35, 45, 55]


def test_assets_stay_inside_the_video_root(tmp_path):
    root = tmp_path / "videos"
    (root / "a").mkdir(parents=True)
    write_mp4v(root / "a" / "ok.mp4", 5)
    outside = tmp_path / "secret.mp4"
    write_mp4v(outside, 5)
    os.symlink(outside, root / "a" / "link.mp4")
    assert resolve_asset(root, "a/ok.mp4") == (root / "a" / "ok.mp4").resolve()
    for bad in (str(outside), "../secret.mp4", "a/../../secret.mp4", "a/link.mp4"):
        with pytest.raises(AssetError) as exc:
            resolve_asset(root, bad)
        assert exc.value.kind == "refused"
    with pytest.raises(AssetError) as exc:
        resolve_asset(root, "a/none.mp4")
    assert exc.value.kind == "missing"


def test_corrupt_video_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.mp4"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(AssetError, match=r"bad\.mp4") as exc:
        decode_frames(path, [1.0])
    assert exc.value.kind == "unreadable"
