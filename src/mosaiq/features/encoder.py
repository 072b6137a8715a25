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
DEVICES = ("auto", "cpu", "cuda")


def _checkpoint_of(model: str, pretrained: str | None) -> Path | None:
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

    def preprocess(self, images: list[np.ndarray]) -> Any:
        """uint8 RGB frames -> normalised model input: shortest side resized to the model's
        size (bicubic, antialiased), centre crop, scaled to [0, 1], normalised by mean/std.
        Each image is processed on its own, so a frame's input does not depend on its batch."""
        import torch
        import torch.nn.functional as F

        out = []
        s = self.image_size
        mode = "bicubic" if self.interpolation == "bicubic" else "bilinear"
        for img in images:
            x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float()[None] / 255
            h, w = x.shape[-2:]
            scale = s / min(h, w)
            nh, nw = max(s, round(h * scale)), max(s, round(w * scale))
            x = F.interpolate(x, size=(nh, nw), mode=mode, antialias=True, align_corners=False)
            top, left = (nh - s) // 2, (nw - s) // 2
            out.append(x[0, :, top : top + s, left : left + s].clamp_(0, 1))
        batch = torch.stack(out)
        mean = torch.tensor(self.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.std).view(1, 3, 1, 1)
        return ((batch - mean) / std).to(self.device)

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
    from mosaiq.extras import require

    require("CLIP features", "torch", "open_clip")
    import open_clip
    import torch

    if precision not in PRECISIONS:
        raise MosaiqError(f"clip.precision {precision!r} is not one of {PRECISIONS}")
    if device not in DEVICES and not device.startswith("cuda:"):
        raise MosaiqError(f"clip.device {device!r} is not one of {DEVICES}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MosaiqError("clip.device is cuda but no CUDA device is available")
    if threads:
        torch.set_num_threads(int(threads))
    checkpoint = _checkpoint_of(model, pretrained)
    is_tag = bool(pretrained) and checkpoint is None and not model.startswith("local-dir:")
    torch.manual_seed(int(seed))  # random weights (no checkpoint) are drawn from the seed
    try:
        net = open_clip.create_model(
            model,
            pretrained=(
                str(checkpoint)
                if checkpoint and not model.startswith("local-dir:")
                else (pretrained or None)
            ),
            device=device,
            pretrained_text=False,
            weights_only=True,
        )
    except RuntimeError as exc:
        raise MosaiqError(
            f"cannot load CLIP model {model!r} (pretrained {pretrained!r}): {exc}"
        ) from exc
    cfg = open_clip.get_model_preprocess_cfg(net)
    visual = net.visual.eval()
    if precision == "bf16":
        # weights and activations in bfloat16 (autocast keeps fp32 weights and converts at
        # every layer, which is slower on CPU than fp32 itself)
        visual = visual.to(torch.bfloat16)
    del net  # only the image tower is needed
    size = cfg.get("size", 224)
    size = size[0] if isinstance(size, (list, tuple)) else int(size)
    with torch.inference_mode():
        probe = torch.zeros(
            1,
            3,
            size,
            size,
            device=device,
            dtype=torch.bfloat16 if precision == "bf16" else torch.float32,
        )
        dim = int(visual(probe).shape[-1])
    provenance = {
        "model": model,
        "pretrained": pretrained or None,
        "weights": (
            "checkpoint" if checkpoint else "pretrained_tag" if is_tag else f"random (seed {seed})"
        ),
        "checkpoint": str(checkpoint.name) if checkpoint else None,
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint else None,
        "device": device,
        "precision": precision,
        "embedding_dim": dim,
        "preprocessing": {
            "resize": f"shortest side to {size} px, {cfg.get('interpolation', 'bicubic')}, "
            "antialiased",
            "crop": f"centre {size}x{size}",
            "mean": list(cfg.get("mean", ())),
            "std": list(cfg.get("std", ())),
        },
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
    )
