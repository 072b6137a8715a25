"""CLAP audio embeddings: loading by directory / checkpoint (sha256) / random weights, windows,
pooling. A tiny configuration with seeded random weights; nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

# before transformers / huggingface_hub read it: no download is ever attempted
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from mosaiq.audio.clap import definition, load_clap
from mosaiq.audio.media import read_audio
from mosaiq.errors import MosaiqError
from mosaiq.layout import file_digest as sha256_file
from tests.conftest import tiny_clap_config

RATE = 48000


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads the variable once, at its first import (maybe by another test)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A full CLAP model (audio and text towers) saved as a local directory, random weights."""
    import torch
    from transformers import ClapFeatureExtractor, ClapModel

    folder = tmp_path_factory.mktemp("clap")
    torch.manual_seed(123)
    ClapModel(tiny_clap_config()).save_pretrained(folder)
    ClapFeatureExtractor(feature_size=64, truncation="rand_trunc").save_pretrained(folder)
    return folder


def noise(seconds: float, seed: int, channels: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, (channels, round(seconds * RATE)))


def test_local_directory_loads_its_weights(model_dir: Path) -> None:
    from safetensors.torch import load_file

    enc = load_clap(str(model_dir), device="cpu")
    assert enc.dim == 16
    assert enc.rate == RATE
    saved = load_file(str(model_dir / "model.safetensors"))
    own = enc.model.state_dict()
    key = "audio_projection.linear2.weight"
    np.testing.assert_array_equal(own[key].numpy(), saved[key].numpy())
    assert enc.provenance["weights"] == "pretrained"


def test_checkpoint_with_sha256(model_dir: Path) -> None:
    ckpt = model_dir / "model.safetensors"
    digest = sha256_file(ckpt)
    a = load_clap(str(model_dir), checkpoint=ckpt, checkpoint_sha256=digest, device="cpu")
    b = load_clap(str(model_dir), device="cpu")
    clip = [(noise(3.0, 1), RATE)]
    np.testing.assert_allclose(a.embed(clip), b.embed(clip), atol=1e-6)
    assert a.provenance["checkpoint_sha256"] == digest
    assert definition(a)["checkpoint_sha256"] == digest
    with pytest.raises(MosaiqError, match="sha256"):
        load_clap(str(model_dir), checkpoint=ckpt, checkpoint_sha256="0" * 64, device="cpu")


def test_checkpoint_lacking_audio_weights_is_refused(model_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(model_dir / "model.safetensors"))
    text_only = {k: v for k, v in state.items() if not k.startswith("audio_")}
    save_file(text_only, str(tmp_path / "text.safetensors"))
    with pytest.raises(MosaiqError, match="lacks"):
        load_clap(str(model_dir), checkpoint=tmp_path / "text.safetensors", device="cpu")


def test_unknown_model_offline_is_a_clear_error() -> None:
    with pytest.raises(MosaiqError, match="cannot find the CLAP model"):
        load_clap("nobody/no-such-clap-model", device="cpu")


def test_random_weights_are_seeded() -> None:
    cfg = tiny_clap_config()
    a = load_clap(cfg, pretrained=False, seed=7, device="cpu")
    b = load_clap(cfg, pretrained=False, seed=7, device="cpu")
    c = load_clap(cfg, pretrained=False, seed=8, device="cpu")
    clip = [(noise(2.0, 3), RATE)]
    np.testing.assert_array_equal(a.embed(clip), b.embed(clip))
    assert not np.allclose(a.embed(clip), c.embed(clip))
    assert a.provenance["weights"] == "random (seed 7)"


def test_windows_and_pooling(model_dir: Path) -> None:
    enc = load_clap(str(model_dir), device="cpu", batch_size=2)
    x = noise(25.0, 5)
    wins = enc.windows(x, RATE)
    # 25 s -> 10 s, 10 s and the last 5 s (>= min_window_s)
    assert [w.size for w in wins] == [10 * RATE, 10 * RATE, 5 * RATE]
    np.testing.assert_allclose(wins[1], x.mean(axis=0)[10 * RATE : 20 * RATE], atol=1e-6)
    assert [w.size for w in enc.windows(noise(20.5, 5), RATE)] == [10 * RATE, 10 * RATE]
    emb = enc.embed([(x, RATE)])[0]
    per_window = enc.encode_windows(wins)
    mean = per_window.mean(axis=0)
    np.testing.assert_allclose(emb, mean / np.linalg.norm(mean), atol=1e-6)
    assert np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-6)
    # a clip's embedding does not depend on the clips batched with it
    other = noise(4.0, 6)
    together = enc.embed([(other, RATE), (x, RATE)])
    np.testing.assert_allclose(together[1], emb, atol=1e-5)
    # resampled to the model's rate: 3 s at 44.1 kHz is one 3 s window at 48 kHz
    assert [w.size for w in enc.windows(noise(3.0, 7)[:, :132300], 44100)] == [3 * RATE]


def test_window_longer_than_the_model_input_is_refused(model_dir: Path) -> None:
    with pytest.raises(MosaiqError, match="exceeds"):
        load_clap(str(model_dir), device="cpu", window_s=12.0)


def test_real_isd_excerpt(shared_data: Path, model_dir: Path) -> None:
    enc = load_clap(str(model_dir), device="cpu")
    audio = read_audio(shared_data / "ISD" / "audio" / "trimmed_CT101.wav")
    emb = enc.embed([(audio.samples, audio.rate)])
    assert emb.shape == (1, 16)
    assert np.isfinite(emb).all()
