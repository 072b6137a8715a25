"""Reading a clip's audio: where the file is, what it must be, and the samples of its window.

- :func:`resolve_audio` finds ``media root / asset`` with the same containment rule as the video
  files (:func:`mosaiq.features.frames.resolve_asset`): no absolute path, no ``..``, no link that
  leaves the root.
- :func:`probe_audio` reads only the container header (codec, rate, channels, declared length):
  what ``mosaiq media <DS>`` reports without decoding anything.
- :func:`read_audio` decodes the file with PyAV (FFmpeg: WAV, FLAC, MP3, ... one code path),
  checks it against an :class:`AudioSpec` and returns the samples of ``[start_s, end_s]`` as
  float64 ``(channels, samples)``, resampled to the analysis rate when asked
  (``scipy.signal.resample_poly``, a polyphase filter with an anti-aliasing Kaiser window).

Sample values: fixed-point formats are scaled to full scale 1.0 (int16 / 32768, the convention of
libsndfile and PyAV's float conversion); float formats are returned as stored (ISD's recordings are
float WAV holding pascals). Pascals come from :mod:`mosaiq.audio.calibration`.

Every refusal is a :class:`MediaError` naming the file, the clip, what was expected and what was
found; its ``kind`` is one of :data:`KINDS`, so a run summary can count them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.errors import MosaiqError
from mosaiq.features.frames import AssetError, resolve_asset

KINDS = (
    "refused",  # the asset would leave the media root
    "missing",  # no file (or no asset named)
    "unreadable",  # not an audio file, or no audio stream, or a decoding error
    "truncated",  # fewer samples than the header declares, or than the window needs
    "silent",  # every sample of the window at or below the silence peak
    "clipped",  # too many samples stuck at full scale
    "sample_rate",  # a rate other than the declared one
    "channels",  # a channel count other than the declared one (mono where binaural expected)
    "window",  # a window that makes no sense (end before start, negative start)
)


class MediaError(MosaiqError):
    """A clip's audio that cannot be used; names the file, the clip and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        file: str | Path | None = None,
        clip_id: str | None = None,
        expected: object = None,
        found: object = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown media error kind {kind!r}")
        self.message = message
        self.kind = kind
        self.file = str(file) if file is not None else None
        self.clip_id = clip_id
        self.expected = expected
        self.found = found
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [p for p in (self.clip_id and f"clip {self.clip_id}", self.file) if p]
        detail = []
        if self.expected is not None:
            detail.append(f"expected {self.expected}")
        if self.found is not None:
            detail.append(f"found {self.found}")
        text = f"{self.kind}: {self.message}" + (f" ({', '.join(detail)})" if detail else "")
        return f"{', '.join(where)}: {text}" if where else text

    def with_clip(self, clip_id: str) -> MediaError:
        return MediaError(
            self.message,
            kind=self.kind,
            file=self.file,
            clip_id=clip_id,
            expected=self.expected,
            found=self.found,
        )


@dataclass(frozen=True)
class AudioSpec:
    """What a dataset's audio files must be, and how they are read.

    ``sample_rate`` is the rate the files must have (``None``: any); ``analysis_rate`` the rate of
    the samples returned (``None``: the file's), reached by resampling. ``channels`` is the channel
    count the files must have (2 for binaural recordings; ``None``: any).
    """

    channels: int | None = 2
    sample_rate: int | None = 48000
    analysis_rate: int | None = 48000
    # a file shorter than its header says by more than this is truncated; so is a window that
    # ends more than this after the file
    tolerance_s: float = 0.01
    # silent: the peak of the window is at or below this (0.0: digital silence only)
    silence_peak: float = 0.0
    # clipped (fixed-point and lossy formats only, which have a full scale of 1.0): more than
    # ``clipped_fraction`` of the samples sit in runs of >= 3 identical values at or above
    # ``clip_level`` of full scale (the flat tops a clipping converter leaves)
    clip_level: float = 0.999
    clipped_fraction: float = 1e-3

    @classmethod
    def from_params(cls, node: dict[str, Any] | None) -> AudioSpec:
        node = dict(node or {})
        known = {k: node[k] for k in cls.__dataclass_fields__ if k in node}
        unknown = sorted(set(node) - set(known))
        if unknown:
            raise MosaiqError(f"audio settings: unknown keys {unknown}")
        return cls(**known)


@dataclass(frozen=True)
class AudioInfo:
    """What the container header says (no decoding)."""

    path: Path
    codec: str
    sample_format: str
    rate: int
    channels: int
    duration_s: float | None  # declared length; None when the header does not give it

    @property
    def full_scale(self) -> bool:
        """Whether the format has a full scale of 1.0 (fixed point, lossy); float PCM has none."""
        return not self.codec.startswith("pcm_f")


@dataclass
class Audio:
    """Decoded samples of one clip's window."""

    samples: np.ndarray  # float64, (channels, n)
    rate: int  # of ``samples``
    info: AudioInfo
    start_s: float
    end_s: float
    units: str = "file"  # "file" (as decoded) or "pascal" (after calibration)
    calibration: dict[str, Any] = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.rate


def resolve_audio(root: Path, asset: str, clip_id: str | None = None) -> Path:
    """The file of ``asset`` under the media root; the video files' containment rule."""
    try:
        return resolve_asset(root, asset)
    except AssetError as exc:
        message = str(exc).replace("video asset", "audio asset").replace("video root", "media root")
        raise MediaError(message, kind=exc.kind, file=asset, clip_id=clip_id) from exc


def _open(path: Path, clip_id: str | None) -> Any:
    from mosaiq.extras import require

    require("Decoding audio", "av")
    import av

    if not path.is_file():
        raise MediaError("file not found", kind="missing", file=path, clip_id=clip_id)
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise MediaError(
            f"not a readable audio file ({exc})",
            kind="unreadable",
            file=path,
            clip_id=clip_id,
            expected="an audio file (WAV, FLAC, MP3, ...)",
        ) from exc
    if not container.streams.audio:
        container.close()
        raise MediaError(
            "no audio stream", kind="unreadable", file=path, clip_id=clip_id, expected="audio"
        )
    return container


def _info(path: Path, container: Any) -> AudioInfo:
    stream = container.streams.audio[0]
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    return AudioInfo(
        path=path,
        codec=stream.codec_context.name,
        sample_format=stream.format.name if stream.format is not None else "",
        rate=int(stream.rate),
        channels=int(stream.channels),
        duration_s=duration,
    )


def wav_data_shortfall(path: Path) -> int:
    """Bytes of a RIFF/WAVE ``data`` chunk that its header declares but the file lacks (0 for
    a complete file or another format). FFmpeg estimates a PCM WAV's length from the file size,
    so a cut-off file would otherwise look complete."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return 0
        if head[:4] == b"RF64":
            return 0  # 64-bit sizes live in a ds64 chunk; FFmpeg reads those itself
        offset = 12
        while offset + 8 <= size:
            fh.seek(offset)
            chunk = fh.read(8)
            declared = int.from_bytes(chunk[4:8], "little")
            if chunk[:4] == b"data":
                if declared == 0xFFFFFFFF:  # streamed WAV: length unknown
                    return 0
                return max(0, offset + 8 + declared - size)
            offset += 8 + declared + (declared & 1)
    return 0


def _check_wav_complete(path: Path, clip_id: str | None, *, with_size: bool = False) -> None:
    """Refuse a WAV file cut short of the ``data`` chunk its header declares (truncated);
    ``with_size`` adds the file's size to the error."""
    missing = wav_data_shortfall(path)
    if missing:
        raise MediaError(
            "file ends before the length its WAV header declares",
            kind="truncated",
            file=path,
            clip_id=clip_id,
            expected=f"{missing} more bytes of audio data",
            found=f"{path.stat().st_size} bytes" if with_size else None,
        )


def probe_audio(path: Path, clip_id: str | None = None) -> AudioInfo:
    """Codec, rate, channels and declared length of an audio file, from its header only."""
    container = _open(path, clip_id)
    try:
        return _info(path, container)
    finally:
        container.close()


_INT_SCALE = {"s16": 2.0**15, "s32": 2.0**31, "s64": 2.0**63}


def _to_float(array: np.ndarray, fmt: str, channels: int) -> np.ndarray:
    """One decoded frame as float64 (channels, n)."""
    planar = fmt.endswith("p")
    base = fmt[:-1] if planar else fmt
    data = array.reshape(channels, -1) if planar else array.reshape(-1, channels).T
    if base in _INT_SCALE:
        return data.astype(np.float64) / _INT_SCALE[base]
    if base == "u8":
        return (data.astype(np.float64) - 128.0) / 128.0
    return data.astype(np.float64)


def _check_header(info: AudioInfo, spec: AudioSpec, clip_id: str | None) -> None:
    if spec.channels is not None and info.channels != spec.channels:
        what = {1: "mono", 2: "binaural (2 channels)"}
        raise MediaError(
            "wrong channel layout",
            kind="channels",
            file=info.path,
            clip_id=clip_id,
            expected=what.get(spec.channels, f"{spec.channels} channels"),
            found=what.get(info.channels, f"{info.channels} channels"),
        )
    if spec.sample_rate is not None and info.rate != spec.sample_rate:
        raise MediaError(
            "wrong sample rate",
            kind="sample_rate",
            file=info.path,
            clip_id=clip_id,
            expected=f"{spec.sample_rate} Hz",
            found=f"{info.rate} Hz",
        )


def clipped_fraction(samples: np.ndarray, level: float) -> float:
    """Share of samples in runs of >= 3 identical values at or above ``level`` (full scale 1)."""
    if samples.shape[-1] < 3:
        return 0.0
    high = np.abs(samples) >= level
    same_prev = np.zeros_like(high)
    same_prev[:, 1:] = samples[:, 1:] == samples[:, :-1]
    same_next = np.zeros_like(high)
    same_next[:, :-1] = samples[:, :-1] == samples[:, 1:]
    # a sample is in a run of >= 3 when it equals both neighbours, or is the end of such a run
    middle = high & same_prev & same_next
    in_run = middle.copy()
    in_run[:, 1:] |= middle[:, :-1]
    in_run[:, :-1] |= middle[:, 1:]
    return float(in_run.mean())


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Polyphase resampling along the last axis (scipy.signal.resample_poly)."""
    if rate == target:
        return samples
    from scipy.signal import resample_poly

    g = math.gcd(int(rate), int(target))
    return resample_poly(samples, int(target) // g, int(rate) // g, axis=-1)


def read_audio(
    path: Path,
    spec: AudioSpec | None = None,
    *,
    clip_id: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
) -> Audio:
    """The checked samples of ``[start_s, end_s]`` (the whole file when not given)."""
    from mosaiq.extras import require

    require("Decoding audio", "av")
    import av

    spec = spec or AudioSpec()
    start = 0.0 if start_s is None or _nan(start_s) else float(start_s)
    end = None if end_s is None or _nan(end_s) else float(end_s)
    if start < 0 or (end is not None and end <= start):
        raise MediaError(
            "window makes no sense",
            kind="window",
            file=path,
            clip_id=clip_id,
            expected="0 <= start_s < end_s",
            found=f"start_s={start_s}, end_s={end_s}",
        )
    container = _open(path, clip_id)
    try:
        info = _info(path, container)
        _check_header(info, spec, clip_id)
        _check_wav_complete(path, clip_id, with_size=True)
        stream = container.streams.audio[0]
        first = round(start * info.rate)
        last = None if end is None else round(end * info.rate)
        chunks: list[np.ndarray] = []
        got = 0
        reached_eof = True
        try:
            for frame in container.decode(stream):
                chunk = _to_float(frame.to_ndarray(), frame.format.name, info.channels)
                chunks.append(chunk)
                got += chunk.shape[1]
                if last is not None and got >= last:
                    reached_eof = False
                    break
        except av.error.FFmpegError as exc:
            raise MediaError(
                f"decoding failed after {got / info.rate:.3f} s ({exc})",
                kind="truncated" if got else "unreadable",
                file=path,
                clip_id=clip_id,
            ) from exc
    finally:
        container.close()
    if not got:
        raise MediaError(
            "no audio samples", kind="truncated", file=path, clip_id=clip_id, found="0 samples"
        )
    data = np.concatenate(chunks, axis=1)
    decoded_s = data.shape[1] / info.rate
    tol = spec.tolerance_s
    if reached_eof and info.duration_s is not None and decoded_s < info.duration_s - tol:
        raise MediaError(
            "file ends before the length its header declares",
            kind="truncated",
            file=path,
            clip_id=clip_id,
            expected=f"{info.duration_s:.3f} s",
            found=f"{decoded_s:.3f} s",
        )
    if end is not None and decoded_s < end - tol:
        raise MediaError(
            "file ends before the clip's window",
            kind="truncated",
            file=path,
            clip_id=clip_id,
            expected=f"audio up to {end:.3f} s",
            found=f"{decoded_s:.3f} s",
        )
    if start >= decoded_s:
        raise MediaError(
            "window starts after the end of the file",
            kind="truncated",
            file=path,
            clip_id=clip_id,
            expected=f"audio from {start:.3f} s",
            found=f"{decoded_s:.3f} s",
        )
    window = data[:, first : (last if last is not None else data.shape[1])]
    peak = float(np.abs(window).max())
    if peak <= spec.silence_peak:
        raise MediaError(
            "silent",
            kind="silent",
            file=path,
            clip_id=clip_id,
            expected=f"a peak above {spec.silence_peak}",
            found=f"peak {peak}",
        )
    if info.full_scale:
        share = clipped_fraction(window, spec.clip_level)
        if share > spec.clipped_fraction:
            raise MediaError(
                "clipped",
                kind="clipped",
                file=path,
                clip_id=clip_id,
                expected=f"at most {spec.clipped_fraction:.2%} of samples stuck at full scale",
                found=f"{share:.2%}",
            )
    rate = info.rate
    if spec.analysis_rate is not None and spec.analysis_rate != rate:
        window = resample(window, rate, spec.analysis_rate)
        rate = spec.analysis_rate
    stop = end if end is not None else decoded_s
    return Audio(np.ascontiguousarray(window), rate, info, start, stop)


def _nan(value: float) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def with_samples(audio: Audio, samples: np.ndarray, **changes: Any) -> Audio:
    """A copy of ``audio`` with other samples (and other fields changed)."""
    return replace(audio, samples=samples, **changes)


def load_clip_audio(
    media_root: Path,
    asset: str,
    spec: AudioSpec | None = None,
    *,
    clip_id: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    calibration: Any = None,
) -> Audio:
    """The reader of a feature run: resolve under the root, read and check the window, and
    (given a :class:`mosaiq.audio.calibration.ResolvedCalibration`) convert to pascals."""
    path = resolve_audio(media_root, asset, clip_id)
    audio = read_audio(path, spec, clip_id=clip_id, start_s=start_s, end_s=end_s)
    return calibration.apply(audio) if calibration is not None else audio


@dataclass
class MediaReport:
    """What ``mosaiq media <DS>`` prints: which clips resolve to a usable file (headers only)."""

    total: int = 0
    no_asset: int = 0
    ok: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # clip, kind, message
    rates: dict[int, int] = field(default_factory=dict)  # rate found -> clips
    channels: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0  # declared audio of the usable clips

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for _c, kind, _m in self.problems:
            out[kind] = out.get(kind, 0) + 1
        return out

    def lines(self) -> list[str]:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts().items())) or "no problems"
        out = [
            f"{self.total} clips: {self.ok} usable, {self.no_asset} without an audio asset, "
            f"{kinds}; {self.seconds / 3600:.2f} h of audio",
            "  sample rates found: "
            + (", ".join(f"{r} Hz x {n}" for r, n in sorted(self.rates.items())) or "-"),
            "  channels found: "
            + (", ".join(f"{c} x {n}" for c, n in sorted(self.channels.items())) or "-"),
        ]
        out += [f"  {cid}: {msg}" for cid, _k, msg in self.problems]
        return out


def check_media(
    media_root: Path,
    clips: Any,
    spec: AudioSpec | None = None,
) -> MediaReport:
    """Check every clip's audio from its header, decoding nothing: the asset resolves, the file
    opens as audio, its channels and rate are the declared ones and it is long enough for the
    clip's window. ``clips``: rows with ``clip_id``, ``audio_asset`` and optional ``start_s``,
    ``end_s`` (a DataFrame or an iterable of mappings). A WAV file cut short is found from its
    header; other formats only when decoded."""
    spec = spec or AudioSpec()
    rows = clips.to_dict("records") if hasattr(clips, "to_dict") else list(clips)
    report = MediaReport(total=len(rows))
    for row in rows:
        clip_id = str(row["clip_id"])
        asset = row.get("audio_asset")
        if asset is None or (isinstance(asset, float) and math.isnan(asset)) or not str(asset):
            report.no_asset += 1
            continue
        try:
            path = resolve_audio(media_root, str(asset), clip_id)
            info = probe_audio(path, clip_id)
            report.rates[info.rate] = report.rates.get(info.rate, 0) + 1
            report.channels[info.channels] = report.channels.get(info.channels, 0) + 1
            _check_header(info, spec, clip_id)
            _check_wav_complete(path, clip_id)
            end = row.get("end_s")
            declared = info.duration_s
            if (
                end is not None
                and not _nan(end)
                and declared is not None
                and declared < float(end) - spec.tolerance_s
            ):
                raise MediaError(
                    "file ends before the clip's window",
                    kind="truncated",
                    file=path,
                    clip_id=clip_id,
                    expected=f"audio up to {float(end):.3f} s",
                    found=f"{declared:.3f} s",
                )
        except MediaError as exc:
            report.problems.append((clip_id, exc.kind, str(exc)))
            continue
        report.ok += 1
        report.seconds += info.duration_s or 0.0
    return report
