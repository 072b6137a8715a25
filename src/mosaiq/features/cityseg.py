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
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.features.store import (
    FEATURES_DIR,
    dataset_dir,
    read_records,
    record_keys,
    write_records,
)
from mosaiq.package import write_files_atomically
from mosaiq.settings import load_params, param, read_yaml

FEATURE_NAME = "cityseg_summary"
FEATURE_TYPE = "visual_semantic_summary"
MASK_SUFFIXES = (".png", ".npy")
GROUPS = ("natural", "traffic", "built", "human_activity")


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
    folder = masks_root / clip_id
    if folder.is_dir():
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in MASK_SUFFIXES)
    return [p for s in MASK_SUFFIXES if (p := masks_root / f"{clip_id}{s}").is_file()][:1]


def summarise(files: list[Path], classes: ClassMap) -> dict[str, Any]:
    """Class proportions and group ratios over the counted pixels of all frames."""
    counts: dict[str, int] = {}
    total = 0
    for path in files:
        mask = _read_mask(path)
        ids, n = np.unique(mask, return_counts=True)
        for i, c in zip(ids.tolist(), n.tolist(), strict=True):
            if i in classes.ignore:
                continue
            name = classes.ids.get(i)
            if name is None:
                raise MosaiqError(f"{path.name}: label id {i} is not in the class map")
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
        "frames_used": len(files),
        "pixels_counted": total,
        "mask_files": [p.name for p in files],
    }


@dataclass
class Summary:
    dataset: str
    done: int = 0
    already: int = 0
    missing: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"{self.dataset} {FEATURE_NAME}: {self.done} done, {self.already} already "
            f"recorded, {len(self.missing)} clips without masks, {self.seconds:.1f} s"
        ]


def run(root: Path, dataset: str, *, mode: str = "append", limit: int | None = None) -> Summary:
    from mosaiq.api import load

    started = time.perf_counter()
    params = load_params(root)
    node = param(params, "cityseg", {}) or {}
    masks_value = param(params, f"cityseg.masks_root.{dataset}")
    masks_root = (
        (root / masks_value)
        if masks_value and not Path(str(masks_value)).is_absolute()
        else (Path(str(masks_value)) if masks_value else None)
    )
    class_map_path = root / node.get("class_map", "config/cityseg_class_map.yaml")
    classes = ClassMap.load(
        class_map_path, masks_root if masks_root and masks_root.is_dir() else None
    )
    inline_limit = int(node.get("inline_bytes", 2048))
    defn = {"feature": FEATURE_NAME, "class_map_sha256": classes.sha256}
    def_id = hashlib.sha256(json.dumps(defn, sort_keys=True).encode()).hexdigest()[:16]
    summary = Summary(dataset)
    records = read_records(root, dataset, FEATURE_NAME)
    if mode == "overwrite":
        records = records.iloc[0:0]
    folder = dataset_dir(root, dataset) / FEATURES_DIR / FEATURE_NAME
    folder.mkdir(parents=True, exist_ok=True)
    have = set(records.loc[records["definition_id"] == def_id, "clip_id"].astype(str))
    clips = load(dataset, "clips", root=root, built_only=False)["clip_id"].astype(str).tolist()
    summary.already = sum(c in have for c in clips)
    todo = [c for c in clips if c not in have]
    if limit is not None:
        todo = todo[: max(0, int(limit))]
    rows, files = [], {}
    if masks_root is not None and masks_root.is_dir():
        for cid in todo:
            found = mask_files(masks_root, cid)
            if not found:
                summary.missing.append(cid)
                continue
            value = summarise(found, classes)
            text = json.dumps(value, sort_keys=True, separators=(",", ":"))
            row = {
                **record_keys(dataset, cid, FEATURE_NAME, FEATURE_TYPE, def_id),
                "value_format": "json",
                "feature_dimension": len(value["class_proportions"]) or None,
                "n_frames": value["frames_used"],
                "checksum": hashlib.sha256(text.encode()).hexdigest(),
                "provenance_json": json.dumps(
                    {
                        "class_map": str(class_map_path.relative_to(root)),
                        "class_map_sha256": classes.sha256,
                        "masks": "label maps from cityseg.masks_root",
                        "frames_used": value["frames_used"],
                    },
                    sort_keys=True,
                    separators=(",", ":"),
                ),
            }
            if len(text) <= inline_limit:
                row["feature_value_json"] = text
            else:
                name = f"{cid.replace('/', '_')}.json"
                files[folder / name] = text.encode()
                row["feature_path"] = f"{FEATURES_DIR}/{FEATURE_NAME}/{name}"
            rows.append(row)
    else:
        summary.missing = list(todo)
    if files:
        write_files_atomically(files)
    if rows:
        new = pd.DataFrame(rows)
        records = pd.concat([records, new], ignore_index=True) if not records.empty else new
    write_records(root, dataset, FEATURE_NAME, records)
    summary.done = len(rows)
    summary.seconds = time.perf_counter() - started
    return summary
