"""The audio reader: containment, windows, formats, resampling, calibration and every bad input."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest
from scipy.io import wavfile

from mosaiq.audio.calibration import Calibration
from mosaiq.audio.media import (
    AudioSpec,
    MediaError,
    check_media,
    load_clip_audio,
    probe_audio,
    read_audio,
    resolve_audio,
)
from mosaiq.errors import MosaiqError

RATE = 48000


def sine(seconds: float, rate: int = RATE, freq: float = 1000.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def write_int16(path: Path, data: np.ndarray, rate: int = RATE) -> Path:
    """``data``: (n,) or (n, channels) floats in full-scale units."""
    wavfile.write(path, rate, np.clip(np.round(data * 32767), -32768, 32767).astype(np.int16))
    return path


def stereo(seconds: float, rate: int = RATE) -> np.ndarray:
    return np.stack([sine(seconds, rate), sine(seconds, rate, amp=0.25)], axis=1)


def encode(path: Path, data: np.ndarray, codec: str, rate: int = RATE) -> Path:
    """Write (n, 2) float audio with PyAV's encoder (FLAC, MP3)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        fmt = "s16" if codec == "flac" else "fltp"
        for begin in range(0, len(data), 1152):
            chunk = data[begin : begin + 1152]
            if fmt == "s16":
                arr = np.round(chunk * 32767).astype(np.int16).reshape(1, -1)
            else:
                arr = np.ascontiguousarray(chunk.T.astype(np.float32))
            frame = av.AudioFrame.from_ndarray(arr, format=fmt, layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_reads_window_of_int16_wav_in_full_scale_units(tmp_path: Path) -> None:
    data = stereo(2.0)
    path = write_int16(tmp_path / "a.wav", data)
    audio = read_audio(path, start_s=0.5, end_s=1.25)
    assert audio.samples.shape == (2, 36000)
    assert audio.rate == RATE
    expected = np.round(data[24000:60000].T * 32767) / 32768
    np.testing.assert_allclose(audio.samples, expected, rtol=0, atol=1e-12)
    info = probe_audio(path)
    assert (info.codec, info.rate, info.channels) == ("pcm_s16le", RATE, 2)
    assert info.duration_s == pytest.approx(2.0)


def test_reads_float_wav_values_as_stored(tmp_path: Path) -> None:
    data = (stereo(1.0) * 3.0).astype(np.float32)  # pascals above 1.0 are not clipping
    path = tmp_path / "f.wav"
    wavfile.write(path, RATE, data)
    audio = read_audio(path)
    np.testing.assert_array_equal(audio.samples, data.T.astype(np.float64))
    assert not audio.info.full_scale


def test_flac_and_mp3_decode(tmp_path: Path) -> None:
    data = stereo(1.0)
    flac = read_audio(encode(tmp_path / "a.flac", data, "flac"))
    np.testing.assert_allclose(flac.samples, np.round(data.T * 32767) / 32768, atol=1e-12)
    mp3 = read_audio(encode(tmp_path / "a.mp3", data, "mp3"), AudioSpec(tolerance_s=0.1))
    assert mp3.info.codec.startswith("mp3")
    assert mp3.channels == 2
    # channels stay in place (the right one 6.02 dB lower) and the level within half a dB
    rms = np.sqrt(np.mean(mp3.samples[:, RATE // 4 : -RATE // 4] ** 2, axis=1))
    level = 20 * np.log10(rms / (0.5 / np.sqrt(2)))
    assert level[0] - level[1] == pytest.approx(20 * np.log10(2), abs=0.05)
    assert abs(level[0]) < 0.5


def test_resamples_to_the_analysis_rate(tmp_path: Path) -> None:
    path = write_int16(tmp_path / "a.wav", stereo(1.0, 44100), rate=44100)
    audio = read_audio(path, AudioSpec(sample_rate=None, analysis_rate=RATE))
    assert audio.rate == RATE
    assert audio.samples.shape == (2, RATE)
    assert audio.info.rate == 44100
    # the tone keeps its level through the polyphase filter
    rms = np.sqrt(np.mean(audio.samples[0, 4800:-4800] ** 2))
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)


def test_containment_reuses_the_video_rule(tmp_path: Path) -> None:
    root = tmp_path / "media"
    root.mkdir()
    write_int16(root / "in.wav", stereo(0.5))
    outside = write_int16(tmp_path / "secret.wav", stereo(0.5))
    os.symlink(outside, root / "link.wav")
    assert resolve_audio(root, "in.wav") == (root / "in.wav").resolve()
    for asset, kind in [
        ("../secret.wav", "refused"),
        (str(outside), "refused"),
        ("link.wav", "refused"),
        ("nope.wav", "missing"),
        ("", "missing"),
    ]:
        with pytest.raises(MediaError) as err:
            resolve_audio(root, asset, clip_id="C1")
        assert err.value.kind == kind
        assert "C1" in str(err.value)
        assert "video" not in str(err.value)


@pytest.mark.parametrize(
    ("case", "kind", "expected_text"),
    [
        ("silent", "silent", "peak above"),
        ("clipped", "clipped", "stuck at full scale"),
        ("mono", "channels", "binaural"),
        ("rate", "sample_rate", "48000 Hz"),
        ("truncated", "truncated", "WAV header"),
        ("short_for_window", "truncated", "audio up to 3.000 s"),
        ("text", "unreadable", "audio file"),
        ("missing", "missing", None),
        ("window", "window", "start_s < end_s"),
    ],
)
def test_bad_input_names_file_clip_and_expectation(
    tmp_path: Path, case: str, kind: str, expected_text: str | None
) -> None:
    path = tmp_path / f"{case}.wav"
    window: dict[str, float] = {}
    if case == "silent":
        write_int16(path, np.zeros((RATE, 2)))
    elif case == "clipped":
        write_int16(path, np.clip(np.stack([sine(1.0, amp=2.0)] * 2, axis=1), -1, 1))
    elif case == "mono":
        write_int16(path, sine(1.0))
    elif case == "rate":
        write_int16(path, stereo(1.0, 44100), rate=44100)
    elif case == "truncated":
        write_int16(path, stereo(1.0))
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) // 2])
    elif case == "short_for_window":
        write_int16(path, stereo(1.0))
        window = {"start_s": 2.0, "end_s": 3.0}
    elif case == "text":
        path.write_text("clip_id,PAQ1\nC1,3\n")
    elif case == "window":
        write_int16(path, stereo(1.0))
        window = {"start_s": 0.8, "end_s": 0.2}
    with pytest.raises(MediaError) as err:
        read_audio(path, AudioSpec(), clip_id="ISD_X_CT999", **window)
    assert err.value.kind == kind
    message = str(err.value)
    assert "ISD_X_CT999" in message
    assert path.name in message
    if expected_text:
        assert expected_text in message


def test_a_full_scale_tone_that_is_not_clipped_passes(tmp_path: Path) -> None:
    path = write_int16(tmp_path / "loud.wav", np.stack([sine(1.0, amp=1.0)] * 2, axis=1))
    assert read_audio(path).channels == 2


def test_calibration_kinds(tmp_path: Path) -> None:
    path = write_int16(tmp_path / "a.wav", stereo(1.0))
    audio = read_audio(path)
    factor = Calibration.from_params({"kind": "factor", "pa_per_unit": [2.0, 4.0]}).resolve()
    pa = factor.apply(audio)
    np.testing.assert_allclose(pa.samples, audio.samples * np.array([[2.0], [4.0]]))
    assert pa.units == "pascal"
    assert pa.calibration == {"kind": "factor", "pa_per_unit": [2.0, 4.0]}
    # a reference recording of 94 dB (1 Pa RMS) through the same chain
    write_int16(tmp_path / "cal.wav", sine(1.0, amp=0.1))
    ref = Calibration.from_params({"kind": "reference", "file": "cal.wav", "level_db": 94.0})
    resolved = ref.resolve(tmp_path)
    assert resolved.pa_per_unit[0] == pytest.approx(
        20e-6 * 10 ** (94 / 20) / (0.1 / np.sqrt(2)), rel=1e-4
    )
    assert len(resolved.provenance["sha256"]) == 64
    with pytest.raises(MosaiqError, match="not declared"):
        Calibration.from_params(None)
    with pytest.raises(MosaiqError, match="positive"):
        Calibration.from_params({"kind": "factor", "pa_per_unit": -1})
    with pytest.raises(MediaError, match="refused"):
        Calibration.from_params({"kind": "reference", "file": "../x.wav", "level_db": 94}).resolve(
            tmp_path / "sub"
        )


def test_check_media_reports_without_decoding(tmp_path: Path) -> None:
    import pandas as pd

    write_int16(tmp_path / "a.wav", stereo(2.0))
    write_int16(tmp_path / "mono.wav", sine(2.0))
    write_int16(tmp_path / "slow.wav", stereo(2.0, 44100), rate=44100)
    (tmp_path / "notes.wav").write_text("not audio")
    clips = pd.DataFrame(
        {
            "clip_id": ["A", "B", "C", "D", "E", "F", "G"],
            "audio_asset": [
                "a.wav",
                "mono.wav",
                "slow.wav",
                "notes.wav",
                "gone.wav",
                None,
                "a.wav",
            ],
            "start_s": [0.0, None, None, None, None, None, 1.0],
            "end_s": [2.0, None, None, None, None, None, 5.0],
        }
    )
    report = check_media(tmp_path, clips, AudioSpec())
    assert (report.total, report.ok, report.no_asset) == (7, 1, 1)
    assert report.counts() == {
        "channels": 1,
        "sample_rate": 1,
        "unreadable": 1,
        "missing": 1,
        "truncated": 1,
    }
    assert report.rates == {48000: 3, 44100: 1}
    assert report.seconds == pytest.approx(2.0)
    text = "\n".join(report.lines())
    assert "G: clip G" in text and "audio up to 5.000 s" in text


def test_load_clip_audio_is_the_whole_reader(tmp_path: Path) -> None:
    write_int16(tmp_path / "a.wav", stereo(2.0))
    cal = Calibration.from_params({"kind": "factor", "pa_per_unit": 2.0}).resolve()
    audio = load_clip_audio(tmp_path, "a.wav", clip_id="A", start_s=1.0, end_s=1.5, calibration=cal)
    assert audio.units == "pascal"
    assert audio.samples.shape == (2, 24000)
    with pytest.raises(MediaError, match="refused"):
        load_clip_audio(tmp_path, "../a.wav", clip_id="A")
