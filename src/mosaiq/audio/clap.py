"""CLAP audio embeddings (LAION-CLAP through Hugging Face ``transformers``).

Model and weights (``clap.model`` / ``clap.checkpoint`` / ``clap.pretrained``):

- ``model``: a hub id (``laion/clap-htsat-unfused``; read from the local Hugging Face cache, or
  downloaded where the hub is reachable; ``HF_HUB_OFFLINE=1`` forbids downloads) or a local
  directory holding ``config.json``, the weights and ``preprocessor_config.json``;
- ``checkpoint``: a weights file (``.safetensors``, or a ``.bin`` PyTorch state dict) loaded into
  the architecture of ``model``; with ``checkpoint_sha256`` the file must have that digest;
- ``pretrained: false``: the architecture of ``model`` (or a :class:`ClapConfig` given directly)
  with random weights drawn from ``seed``: for tests and benchmarks, nothing is downloaded.

Only the audio tower and its projection (``ClapAudioModelWithProjection``) are loaded; a
checkpoint that lacks any of their weights is refused rather than silently half-random.

Pooling rule (part of the feature definition): the clip is down-mixed to mono (mean of the
channels), resampled to the model's rate (48 kHz), cut into windows of ``window_s`` (10 s, the
model's input length) every ``hop_s`` (10 s); a last window shorter than ``min_window_s`` is
dropped unless it is the only one; each window goes through the model's own feature extractor
(log-mel; shorter windows are filled by repeating them, ``repeatpad``); the window embeddings are
L2-normalised, averaged, and the mean is L2-normalised again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.audio.media import resample
from mosaiq.errors import MosaiqError
from mosaiq.layout import file_digest as sha256_file

DEFAULT_MODEL = "laion/clap-htsat-unfused"
DEVICES = ("auto", "cpu", "cuda")
POOLING = "mean of L2-normalised window embeddings, L2-normalised"


@dataclass
class ClapEncoder:
    """A loaded CLAP audio tower, its feature extractor and the pooling rule."""

    model: Any
    feature_extractor: Any
    device: str
    rate: int
    dim: int
    window_s: float = 10.0
    hop_s: float = 10.0
    min_window_s: float = 1.0
    batch_size: int = 8
    provenance: dict[str, Any] = field(default_factory=dict)

    def windows(self, samples: np.ndarray, rate: int) -> list[np.ndarray]:
        """The mono windows of one clip (``samples``: (channels, n) or (n,) at ``rate``)."""
        x = np.asarray(samples, dtype=np.float64)
        mono = x.mean(axis=0) if x.ndim == 2 else x
        mono = resample(mono, int(rate), self.rate).astype(np.float32)
        if mono.size == 0:
            raise MosaiqError("CLAP: empty audio")
        size = round(self.window_s * self.rate)
        hop = round(self.hop_s * self.rate)
        shortest = round(self.min_window_s * self.rate)
        out: list[np.ndarray] = []
        for begin in range(0, mono.size, hop):
            piece = mono[begin : begin + size]
            if out and piece.size < shortest:
                break
            out.append(piece)
            if begin + size >= mono.size:
                break
        return out

    def encode_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        """L2-normalised float32 embeddings (n_windows x dim), in batches of ``batch_size``."""
        import torch

        out = []
        for i in range(0, len(windows), self.batch_size):
            batch = windows[i : i + self.batch_size]
            feats = self.feature_extractor(
                batch, sampling_rate=self.rate, return_tensors="pt", padding="repeatpad"
            )
            inputs = {"input_features": feats["input_features"].to(self.device)}
            if "is_longer" in feats:
                inputs["is_longer"] = feats["is_longer"].to(self.device)
            with torch.inference_mode():
                z = self.model(**inputs).audio_embeds.float()
            z = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
            out.append(z.cpu().numpy())
        return np.concatenate(out, axis=0) if out else np.zeros((0, self.dim), np.float32)

    def embed(self, clips: list[tuple[np.ndarray, int]]) -> np.ndarray:
        """One pooled, L2-normalised embedding per clip (``clips``: (samples, rate) pairs).

        The windows of all the clips are encoded together in batches; a clip's embedding does
        not depend on the batch (the model has no batch-dependent layers at inference)."""
        per_clip = [self.windows(s, r) for s, r in clips]
        flat = [w for ws in per_clip for w in ws]
        z = self.encode_windows(flat)
        out = np.zeros((len(clips), self.dim), dtype=np.float32)
        at = 0
        for i, ws in enumerate(per_clip):
            mean = z[at : at + len(ws)].mean(axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
            at += len(ws)
        return out


def _is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


def _quiet_transformers() -> Any:
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    return before


@dataclass
class _Prepared:
    """What a CLAP model is without its weights: name, config, feature extractor, checkpoint."""

    name: str
    source: Any
    config: Any
    fe: Any
    checkpoint: Path | None
    digest: str | None


def _prepare(
    model: str | Any,
    *,
    pretrained: bool,
    checkpoint: str | Path | None,
    checkpoint_sha256: str | None,
) -> _Prepared:
    """The config, the feature extractor and the checkpoint's digest (no weights are read)."""
    from mosaiq.extras import require

    require("CLAP embeddings", "torch", "transformers")
    from transformers import ClapConfig, ClapFeatureExtractor
    from transformers.utils import logging as hf_logging

    name = model if isinstance(model, str) else "config"
    local = isinstance(model, str) and _is_local(model)
    source = str(Path(model).expanduser()) if local else model
    before = _quiet_transformers()
    try:
        if isinstance(model, ClapConfig):
            config = model
        else:
            try:
                config = ClapConfig.from_pretrained(source)
            except OSError as exc:
                raise MosaiqError(
                    f"cannot find the CLAP model {model!r} (a hub id in the local cache, or a "
                    f"directory with config.json): {exc}"
                ) from exc
        ckpt = Path(checkpoint).expanduser() if checkpoint else None
        digest = None
        if ckpt is not None:
            if not ckpt.is_file():
                raise MosaiqError(f"CLAP checkpoint {ckpt} not found")
            digest = sha256_file(ckpt)
            if checkpoint_sha256 and digest != checkpoint_sha256.lower():
                raise MosaiqError(
                    f"CLAP checkpoint {ckpt}: sha256 {digest} is not the declared "
                    f"{checkpoint_sha256}"
                )
        elif pretrained and isinstance(model, ClapConfig):
            raise MosaiqError("pretrained CLAP weights need a hub id or a model directory")
        fe = None
        if not isinstance(model, ClapConfig) and (pretrained or local):
            try:
                fe = ClapFeatureExtractor.from_pretrained(source)
            except OSError:
                fe = None
        if fe is None:
            audio_cfg: Any = config.audio_config
            fe = ClapFeatureExtractor(
                feature_size=audio_cfg.num_mel_bins,
                truncation="fusion" if audio_cfg.enable_fusion else "rand_trunc",
            )
    finally:
        hf_logging.set_verbosity(before)
    return _Prepared(name, source, config, fe, ckpt, digest)


def _weights(ckpt: Path | None, pretrained: bool, seed: int) -> str:
    return (
        "checkpoint"
        if ckpt is not None
        else "pretrained"
        if pretrained
        else f"random (seed {seed})"
    )


def _preprocessing(fe: Any) -> dict[str, Any]:
    return {
        "downmix": "mean of channels",
        "rate_hz": int(fe.sampling_rate),
        "resampling": "scipy.signal.resample_poly",
        "features": f"log-mel, {fe.feature_size} bins, hop {fe.hop_length}, "
        f"fft {fe.fft_window_size}, {fe.frequency_min}-{fe.frequency_max} Hz",
        "short_windows": "repeatpad",
    }


def _pooling(window_s: float, hop_s: float, min_window_s: float) -> dict[str, Any]:
    return {"window_s": window_s, "hop_s": hop_s, "min_window_s": min_window_s, "rule": POOLING}


def load_clap(
    model: str | Any = DEFAULT_MODEL,
    *,
    pretrained: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_sha256: str | None = None,
    seed: int = 0,
    device: str = "auto",
    window_s: float = 10.0,
    hop_s: float = 10.0,
    min_window_s: float = 1.0,
    batch_size: int = 8,
    threads: int | None = None,
) -> ClapEncoder:
    """Load the audio tower of a CLAP model (see the module docstring for the choices)."""
    from mosaiq.extras import require

    require("CLAP embeddings", "torch", "transformers")
    import torch
    from transformers import ClapAudioModelWithProjection
    from transformers.utils import logging as hf_logging

    if device not in DEVICES and not str(device).startswith("cuda:"):
        raise MosaiqError(f"clap.device {device!r} is not one of {DEVICES}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MosaiqError("clap.device is cuda but no CUDA device is available")
    if threads:
        torch.set_num_threads(int(threads))
    prep = _prepare(
        model, pretrained=pretrained, checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha256
    )
    config, ckpt, digest, fe, source = (
        prep.config,
        prep.checkpoint,
        prep.digest,
        prep.fe,
        prep.source,
    )
    before = _quiet_transformers()
    try:
        torch.manual_seed(int(seed))  # random weights are drawn from the seed
        audio_cfg: Any = config.audio_config
        net: Any
        if ckpt is not None:
            net = ClapAudioModelWithProjection(audio_cfg)
            state = _read_state(ckpt)
            own = net.state_dict()
            wanted = {k: v for k, v in state.items() if k in own}
            missing = sorted(set(own) - set(wanted) - {k for k in own if "position_ids" in k})
            if missing:
                raise MosaiqError(
                    f"CLAP checkpoint {ckpt} lacks {len(missing)} audio weights "
                    f"(first: {missing[0]})"
                )
            net.load_state_dict(wanted, strict=False)
        elif pretrained:
            loaded: Any = ClapAudioModelWithProjection.from_pretrained(
                source, output_loading_info=True
            )
            net, info = loaded
            missing = [k for k in info.get("missing_keys", []) if "position_ids" not in k]
            if missing:
                raise MosaiqError(f"CLAP model {model!r} lacks audio weights: {missing[:3]}")
        else:
            net = ClapAudioModelWithProjection(audio_cfg)
    finally:
        hf_logging.set_verbosity(before)
    weights = _weights(ckpt, pretrained, seed)
    if window_s > fe.max_length_s:
        raise MosaiqError(
            f"clap.window_s {window_s} exceeds the model's input length {fe.max_length_s} s"
        )
    net = net.to(device).eval()
    dim = int(net.config.projection_dim)
    rate = int(fe.sampling_rate)
    provenance = {
        "model": prep.name,
        "weights": weights,
        "checkpoint": ckpt.name if ckpt is not None else None,
        "checkpoint_sha256": digest,
        "device": device,
        "embedding_dim": dim,
        "libraries": _libraries(),
        "preprocessing": _preprocessing(fe),
        "pooling": _pooling(window_s, hop_s, min_window_s),
    }
    return ClapEncoder(
        net, fe, device, rate, dim, window_s, hop_s, min_window_s, batch_size, provenance
    )


def _read_state(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=True)
    return state.get("state_dict", state) if isinstance(state, dict) else state


def _libraries() -> dict[str, str]:
    from importlib.metadata import version

    return {lib: version(lib) for lib in ("transformers", "torch", "numpy", "scipy")}


def definition(encoder: ClapEncoder) -> dict[str, Any]:
    """The settings that change the numbers (hashed into a feature's definition id)."""
    p = encoder.provenance
    weights: dict[str, Any] = (
        {"checkpoint_sha256": p["checkpoint_sha256"]}
        if p["checkpoint_sha256"]
        else {"weights": p["weights"]}
    )
    return {
        "feature": "clap_embedding",
        "model": p["model"],
        **weights,
        "preprocessing": p["preprocessing"],
        "pooling": p["pooling"],
    }


def describe_clap(
    model: str | Any = DEFAULT_MODEL,
    *,
    pretrained: bool = True,
    checkpoint: str | Path | None = None,
    checkpoint_sha256: str | None = None,
    seed: int = 0,
    window_s: float = 10.0,
    hop_s: float = 10.0,
    min_window_s: float = 1.0,
) -> dict[str, Any]:
    """:func:`definition` of the encoder :func:`load_clap` would load with these settings,
    from the config and the feature extractor only: no weights are read (a checkpoint is
    hashed), so a client of a cluster can name a run's feature without holding the model."""
    prep = _prepare(
        model, pretrained=pretrained, checkpoint=checkpoint, checkpoint_sha256=checkpoint_sha256
    )
    p = {
        "model": prep.name,
        "weights": _weights(prep.checkpoint, pretrained, seed),
        "checkpoint_sha256": prep.digest,
        "preprocessing": _preprocessing(prep.fe),
        "pooling": _pooling(window_s, hop_s, min_window_s),
    }
    return definition(ClapEncoder(None, prep.fe, "cpu", 0, 0, provenance=p))
