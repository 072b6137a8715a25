"""The CLIP image encoder: open_clip model loading, batched preprocessing, normalised embeddings.

The model is named by one string (``clip.model``: an open_clip name such as ``ViT-B-32``, or
``local-dir:/path`` holding ``open_clip_config.json`` and weights) and its weights by
``clip.pretrained``: an open_clip pretrained tag (``openai``, ``laion2b_s34b_b79k``), a local
checkpoint file, or empty for random weights drawn from ``clip.seed`` (for tests; nothing is
downloaded then). Only the image tower is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mosaiq.errors import MosaiqError
from mosaiq.layout import file_digest as file_sha256

PRECISIONS = ("fp32", "bf16")
RESIZE_MODES = ("shortest",)  # open_clip's resize modes that the fast path reproduces
DEVICES = ("auto", "cpu", "cuda")


def resized_crop(h: int, w: int, size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """torchvision's ``Resize(size)`` output size (shortest side to ``size``, the other side
    truncated) and ``CenterCrop(size)`` offsets (top, left) in the resized image."""
    if w <= h:
        nw, nh = size, int(size * h / w)
    else:
        nh, nw = size, int(size * w / h)
    return (nh, nw), (round((nh - size) / 2.0), round((nw - size) / 2.0))


def checkpoint_of(model: str, pretrained: str | None) -> Path | None:
    if model.startswith("local-dir:"):
        folder = Path(model.split(":", 1)[1])
        found = sorted(
            [
                *folder.glob("*.safetensors"),
                *folder.glob("*.bin"),
                *folder.glob("*.pth"),
                *folder.glob("*.pt"),
            ]
        )
        return found[0] if found else None
    if pretrained and Path(pretrained).expanduser().is_file():
        return Path(pretrained).expanduser()
    return None


@dataclass
class Encoder:
    """A loaded image encoder and what is needed to describe and feed it."""

    visual: Any
    device: str
    precision: str
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    dim: int
    provenance: dict[str, Any] = field(default_factory=dict)
    preprocess_cfg: dict[str, Any] = field(default_factory=dict)

    def preprocess(self, images: list[np.ndarray]) -> Any:
        """uint8 RGB frames -> model input, exactly as open_clip's evaluation transform makes it
        (:meth:`reference_transform`): the same Pillow resize of the 8-bit image (shortest side
        to the model's size, antialiased bicubic or bilinear), the same centre crop, then the
        scaling to [0, 1] and the mean/std normalisation done once for the whole batch instead
        of image by image. A frame's input does not depend on its batch."""
        import torch
        from PIL import Image

        if not self.fast_path():  # other modes and sizes: open_clip's transform itself
            ref = self.reference_transform()
            return torch.stack([ref(Image.fromarray(i)) for i in images]).to(self.device)
        resample = (
            Image.Resampling.BILINEAR
            if self.interpolation == "bilinear"
            else Image.Resampling.BICUBIC
        )
        s = self.image_size
        crops = []
        for img in images:
            (nh, nw), (top, left) = resized_crop(img.shape[0], img.shape[1], s)
            small = Image.fromarray(np.ascontiguousarray(img)).resize((nw, nh), resample)
            crops.append(np.asarray(small)[top : top + s, left : left + s])
        batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        batch = batch.to(torch.float32).div(255)
        mean = torch.as_tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.as_tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1)
        return batch.sub(mean).div(std).to(self.device)

    def fast_path(self) -> bool:
        """Whether :meth:`preprocess` reproduces the transform itself: open_clip's ``shortest``
        resize to a square size (what its CLIP models use); otherwise it calls the transform."""
        size = self.preprocess_cfg.get("size", self.image_size)
        square = not isinstance(size, (list, tuple)) or len(set(size)) == 1
        return square and self.preprocess_cfg.get("resize_mode", "shortest") in RESIZE_MODES

    def reference_transform(self) -> Any:
        """open_clip's own evaluation transform for this model (PIL image -> tensor)."""
        from open_clip.transform import PreprocessCfg, image_transform_v2

        return image_transform_v2(PreprocessCfg(**self.preprocess_cfg), is_train=False)

    def encode(self, batch: Any) -> np.ndarray:
        """L2-normalised float32 embeddings (n x dim) of a preprocessed batch."""
        import torch

        with torch.inference_mode():
            if self.precision == "bf16":
                batch = batch.to(torch.bfloat16)
            z = self.visual(batch).float()
            z = z / z.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return z.cpu().numpy()


def load_encoder(
    model: str,
    pretrained: str | None,
    *,
    device: str = "auto",
    precision: str = "fp32",
    seed: int = 0,
    threads: int | None = None,
) -> Encoder:
    """The image tower of an open_clip model, ready to preprocess and encode frames."""
    from mosaiq.extras import require

    require("CLIP features", "torch", "open_clip")
    import open_clip
    import torch

    device = _device(device, precision)
    if threads:
        torch.set_num_threads(int(threads))
    checkpoint = checkpoint_of(model, pretrained)
    net = _create(model, pretrained, checkpoint, device, seed)
    cfg = dict(open_clip.get_model_preprocess_cfg(net))
    visual = net.visual.eval()
    if precision == "bf16":
        # weights and activations in bfloat16 (autocast keeps fp32 weights and converts at
        # every layer, which is slower on CPU than fp32 itself)
        visual = visual.to(torch.bfloat16)
    del net  # only the image tower is needed
    size = cfg.get("size", 224)
    size = size[0] if isinstance(size, (list, tuple)) else int(size)
    with torch.inference_mode():
        dtype = torch.bfloat16 if precision == "bf16" else torch.float32
        dim = int(visual(torch.zeros(1, 3, size, size, device=device, dtype=dtype)).shape[-1])
    provenance = {
        "model": model,
        "pretrained": pretrained or None,
        "weights": _weights(model, pretrained, checkpoint, seed),
        "checkpoint": str(checkpoint.name) if checkpoint else None,
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint else None,
        "device": device,
        "precision": precision,
        "embedding_dim": dim,
        "preprocessing": _preprocessing(cfg, size),
    }
    return Encoder(
        visual,
        device,
        precision,
        size,
        tuple(cfg["mean"]),
        tuple(cfg["std"]),
        cfg.get("interpolation", "bicubic"),
        dim,
        provenance,
        cfg,
    )


def _create(
    model: str, pretrained: str | None, checkpoint: Path | None, device: str, seed: int
) -> Any:
    import open_clip
    import torch

    torch.manual_seed(int(seed))  # random weights (no checkpoint) are drawn from the seed
    local = model.startswith("local-dir:")
    try:
        return open_clip.create_model(
            model,
            pretrained=str(checkpoint) if checkpoint and not local else (pretrained or None),
            device=device,
            pretrained_text=False,
            weights_only=True,
        )
    except RuntimeError as exc:
        raise MosaiqError(
            f"cannot load CLIP model {model!r} (pretrained {pretrained!r}): {exc}"
        ) from exc


def _device(device: str, precision: str) -> str:
    import torch

    if precision not in PRECISIONS:
        raise MosaiqError(f"clip.precision {precision!r} is not one of {PRECISIONS}")
    if device not in DEVICES and not device.startswith("cuda:"):
        raise MosaiqError(f"clip.device {device!r} is not one of {DEVICES}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MosaiqError("clip.device is cuda but no CUDA device is available")
    return device


def _weights(model: str, pretrained: str | None, checkpoint: Path | None, seed: int) -> str:
    if checkpoint:
        return "checkpoint"
    if pretrained and not model.startswith("local-dir:"):
        return "pretrained_tag"
    return f"random (seed {seed})"


def _preprocessing(cfg: dict[str, Any], size: int) -> dict[str, Any]:
    return {
        "transform": "open_clip image_transform (evaluation), reproduced exactly",
        "resize": f"{cfg.get('resize_mode', 'shortest')} side to {size} px, Pillow "
        f"{cfg.get('interpolation', 'bicubic')} (antialiased) on 8-bit RGB",
        "crop": f"centre {size}x{size}",
        "mean": list(cfg.get("mean", ())),
        "std": list(cfg.get("std", ())),
    }
