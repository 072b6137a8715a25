"""``mosaiq features cityseg <DS>``: semantic-segmentation summaries per clip.

Input: per-clip label maps in ``cityseg.masks_root`` (``<clip_id>/*.png|*.npy``, or a single
``<clip_id>.png|.npy``), holding Cityscapes train ids, or the ids of a ``labels.yaml`` (id: name)
placed in the masks folder. The class map ``config/cityseg_class_map.yaml`` names the ids, folds
aliases together (car, bus, truck -> vehicle) and defines the groups (natural, traffic, built,
human activity).

Output per clip: the proportion of each class over the counted pixels of all frames, the group
ratios (each in [0, 1], summing to at most 1), and the frames used: a ``json`` FeatureRecord
(``visual_semantic_summary``), inline when small, otherwise a file under
``features/cityseg_summary/`` referenced by path. Masks themselves are never copied.

The run is a reader (:class:`MaskReader`: a clip's label maps) and an encoder
(:class:`SummaryEncoder`: label maps -> summary) on the shared machinery (``runner.py``,
``writer.py``); clips without masks are listed as skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from mosaiq.errors import MosaiqError
from mosaiq.features.distributed import Compute, run_parts
from mosaiq.features.frames import AssetError
from mosaiq.features.runner import Decoded, Encoder, Job, Reader, Summary, Value, jobs_of, todo
from mosaiq.features.store import JsonStore, dataset_dir
from mosaiq.features.writer import FeatureSpec, FeatureWriter
from mosaiq.settings import load_params, param, read_yaml

FEATURE_NAME = "cityseg_summary"
FEATURE_TYPE = "visual_semantic_summary"
MASK_SUFFIXES = (".png", ".npy")
GROUPS = ("natural", "traffic", "built", "human_activity")
SPEC = FeatureSpec(FEATURE_NAME, FEATURE_TYPE, "visual")


@dataclass
class ClassMap:
    ids: dict[int, str]
    ignore: set[int]
    aliases: dict[str, str]
    groups: dict[str, list[str]]
    sha256: str

    @classmethod
    def load(cls, path: Path, masks_root: Path | None = None) -> ClassMap:
        if not path.is_file():
            raise MosaiqError(f"{path}: class map not found")
        data = read_yaml(path)
        ids = {int(k): str(v) for k, v in data["classes"].items()}
        local = masks_root / "labels.yaml" if masks_root else None
        if local is not None and local.is_file():
            ids = {int(k): str(v) for k, v in read_yaml(local).items()}
        groups = {g: [str(c) for c in members] for g, members in data["groups"].items()}
        seen: dict[str, str] = {}
        for g, members in groups.items():
            for c in members:
                if c in seen:
                    raise MosaiqError(f"{path}: class {c!r} is in groups {seen[c]!r} and {g!r}")
                seen[c] = g
        return cls(
            ids,
            {int(i) for i in data.get("ignore_ids", [])},
            {str(k): str(v) for k, v in (data.get("aliases") or {}).items()},
            groups,
            hashlib.sha256(path.read_bytes()).hexdigest(),
        )

    def summary_class(self, name: str) -> str:
        return self.aliases.get(name, name)


def _read_mask(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        mask = np.load(path, allow_pickle=False)
    else:
        from mosaiq.extras import require

        require("Reading segmentation masks other than .npy", "cv2")
        import cv2

        mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if mask is None:
            raise MosaiqError(f"{path.name}: cannot read as an image")
    if mask.ndim == 3:  # a label map saved as RGB with equal channels
        if not (mask[..., 0] == mask[..., -1]).all():
            raise MosaiqError(f"{path.name}: colour image, expected a single-channel label map")
        mask = mask[..., 0]
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.integer):
        raise MosaiqError(
            f"{path.name}: expected a 2-D integer label map, got {mask.dtype} {mask.shape}"
        )
    return mask


def mask_files(masks_root: Path, clip_id: str) -> list[Path]:
    """The label maps of a clip, confined to ``masks_root`` as video assets are to their root:
    a clip ID that is a path (``/``, ``..``) or a file or folder that links outside is refused."""
    parts = PurePosixPath(clip_id.replace("\\", "/")).parts
    if not clip_id or len(parts) != 1 or parts[0] in (".", "..") or Path(clip_id).is_absolute():
        raise AssetError(
            f"clip ID {clip_id!r} is a path; label maps must stay inside the masks root",
            kind="refused",
        )
    base = masks_root.resolve()
    folder = masks_root / clip_id
    if folder.is_dir():
        found = sorted(p for p in folder.iterdir() if p.suffix.lower() in MASK_SUFFIXES)
    else:
        found = [p for s in MASK_SUFFIXES if (p := masks_root / f"{clip_id}{s}").is_file()][:1]
    for path in found:
        if not path.resolve().is_relative_to(base):
            raise AssetError(
                f"label map {path.relative_to(masks_root)} is a link that leaves the masks root "
                f"({path.resolve()})",
                kind="refused",
            )
    return found


def summarise(masks: Sequence[tuple[str, np.ndarray]], classes: ClassMap) -> dict[str, Any]:
    """Class proportions and group ratios over the counted pixels of all frames."""
    counts: dict[str, int] = {}
    total = 0
    for name_of_file, mask in masks:
        ids, n = np.unique(mask, return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist(), strict=True):
            if i in classes.ignore:
                continue
            name = classes.ids.get(i)
            if name is None:
                raise MosaiqError(f"{name_of_file}: label id {i} is not in the class map")
            key = classes.summary_class(name)
            counts[key] = counts.get(key, 0) + c
            total += c
    proportions = {k: round(v / total, 10) for k, v in sorted(counts.items())} if total else {}
    groups = {
        g: round(sum(v / total for k, v in counts.items() if k in members), 10) if total else 0.0
        for g, members in classes.groups.items()
    }
    return {
        "class_proportions": proportions,
        "group_ratios": groups,
        "frames_used": len(masks),
        "pixels_counted": total,
        "mask_files": [name for name, _ in masks],
    }


class MaskReader:
    """Job -> the clip's label maps (file name, 2-D integer array), in file-name order."""

    def __init__(self, masks_root: Path | None) -> None:
        self.masks_root = masks_root if masks_root is not None and masks_root.is_dir() else None

    def __call__(self, job: Job) -> Decoded:
        found = mask_files(self.masks_root, job.clip_id) if self.masks_root else []
        if not found:
            raise AssetError("no label maps under cityseg.masks_root", kind="missing")
        masks = [(p.name, _read_mask(p)) for p in found]
        return Decoded(
            job.clip_id,
            masks,
            n=len(masks),
            fields={"n_frames": len(masks)},
            provenance={"frames_used": len(masks)},
        )


class SummaryEncoder:
    """Label maps -> the clip's summary (class proportions, group ratios)."""

    def __init__(self, classes: ClassMap) -> None:
        self.classes = classes

    def encode(self, batch: Sequence[Decoded]) -> list[Value]:
        return [summarise(d.inputs, self.classes) for d in batch]


def _masks_root(root: Path, params: dict[str, Any], dataset: str) -> Path | None:
    value = param(params, f"cityseg.masks_root.{dataset}")
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else root / path


@dataclass
class MaskParts:
    """The recipe of a segmentation run's reader and encoder (built where it runs)."""

    masks_root: Path | None
    classes: ClassMap

    @property
    def key(self) -> str:
        return f"cityseg {self.masks_root} {self.classes.sha256}"

    def build(self) -> tuple[Reader, Encoder, dict[str, Any]]:
        return MaskReader(self.masks_root), SummaryEncoder(self.classes), {}


def run(
    root: Path,
    dataset: str,
    *,
    mode: str = "append",
    limit: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> Summary:
    """Summarise the dataset's label maps; on a Dask cluster with ``scheduler`` or ``workers``
    (or params.yaml ``compute``), in this process otherwise."""
    from mosaiq.api import load

    summary = Summary(dataset, FEATURE_NAME, listed=0)  # clips without masks: counted only
    params = load_params(root)
    node = param(params, "cityseg", {}) or {}
    masks_root = _masks_root(root, params, dataset)
    class_map_path = root / node.get("class_map", "config/cityseg_class_map.yaml")
    classes = ClassMap.load(
        class_map_path, masks_root if masks_root and masks_root.is_dir() else None
    )
    store = JsonStore(
        dataset_dir(root, dataset),
        FEATURE_NAME,
        int(node.get("inline_bytes", 2048)),
        dimension=lambda value: len(value["class_proportions"]) or None,
    )
    defn = {"feature": FEATURE_NAME, "class_map_sha256": classes.sha256}
    writer = FeatureWriter(root, dataset, SPEC, defn, store, mode=mode)
    base = {
        "class_map": str(class_map_path.relative_to(root)),
        "class_map_sha256": classes.sha256,
        "masks": "label maps from cityseg.masks_root",
    }
    jobs = jobs_of(load(dataset, "clips", root=root, built_only=False), None)
    summary.total = len(jobs)
    pending = todo(jobs, writer.recorded(), limit, summary)
    writer.start()
    return run_parts(
        pending,
        MaskParts(masks_root, classes),
        writer,
        summary,
        Compute.from_params(params, scheduler=scheduler, workers=workers),
        base_provenance=base,
        batch_units=1,
        checkpoint_every=max(1, len(pending)),
        skip_missing=True,
    )
