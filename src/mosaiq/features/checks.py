"""Checks of feature records that Table Schema cannot express.

For every record: the stored value exists (file inside the dataset folder, shard row, or base64
bytes), has the declared dimension and dtype, is finite, matches its checksum, and a CLIP or CLAP
embedding has norm 1 (within the precision of its dtype); a segmentation summary has group ratios
in [0, 1] summing to at most 1; acoustic indicators are numbers (or null where a library gives
none); the provenance is JSON with the keys its feature type requires.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.features.clip import PROVENANCE_KEYS
from mosaiq.features.store import load_vector, vector_checksum

NORM_TOLERANCE = {"float16": 2e-3, "float32": 1e-5, "float64": 1e-9}
REQUIRED_PROVENANCE = {
    "visual_clip_embedding": PROVENANCE_KEYS,
    "visual_semantic_summary": ("class_map", "class_map_sha256", "frames_used"),
}
# features of this project checked by name (other features may share their types)
REQUIRED_BY_NAME = {
    "acoustic_indicators": ("libraries", "calibration", "settings", "window_s"),
    "clap_embedding": ("model", "weights", "libraries", "preprocessing", "pooling", "window_s"),
}
UNIT_NORM = ("visual_clip_embedding",)
UNIT_NORM_NAMES = ("clap_embedding",)
GROUP_SLACK = 1e-9

Problem = tuple[int, str, str, str]  # row, field, code, message


def feature_problems(dataset_root: Path, records: pd.DataFrame) -> Iterator[Problem]:
    base = dataset_root.resolve()
    shards: dict[str, np.ndarray] = {}
    rows: list[dict[str, Any]] = records.to_dict("records")  # type: ignore[assignment]
    for pos, rec in enumerate(rows):
        row = pos + 2
        yield from _provenance(rec, row)
        fmt = rec.get("value_format")
        if fmt == "json":
            yield from _summary(base, rec, row)
            continue
        path = rec.get("feature_path")
        if fmt in ("array", "array_shard"):
            if not isinstance(path, str) or not path:
                yield row, "feature_path", "feature-missing", f"{fmt} record without a path"
                continue
            target = (base / path).resolve()
            if not target.is_relative_to(base):
                yield row, "feature_path", "feature-missing", f"{path} leaves the dataset folder"
                continue
            if not target.is_file():
                yield row, "feature_path", "feature-missing", f"array file {path} does not exist"
                continue
        try:
            if fmt == "array_shard" and isinstance(path, str):
                if path not in shards:
                    shards[path] = np.load(base / path, allow_pickle=False)
                array = shards[path]
                r = int(rec["feature_row"])
                if not 0 <= r < len(array):
                    yield (
                        row,
                        "feature_row",
                        "feature-shape",
                        f"row {r} is outside shard {path} ({len(array)} rows)",
                    )
                    continue
                vec = array[r]
            else:
                vec = load_vector(base, rec)
        except (ValueError, OSError, KeyError, TypeError, EOFError) as exc:
            # EOFError: a 0-byte or truncated .npy shard
            yield row, "feature_path", "feature-unreadable", f"stored value unreadable: {exc}"
            continue
        yield from _vector(vec, rec, row)


def _vector(vec: np.ndarray, rec: dict, row: int) -> Iterator[Problem]:
    dim, dtype = rec.get("feature_dimension"), rec.get("dtype")
    if vec.ndim != 1 or (pd.notna(dim) and vec.shape[0] != int(dim)):
        yield (
            row,
            "feature_dimension",
            "feature-shape",
            f"stored shape {vec.shape}, declared dimension {dim}",
        )
        return
    if pd.notna(dtype) and str(vec.dtype) != str(dtype):
        yield row, "dtype", "feature-dtype", f"stored dtype {vec.dtype}, declared {dtype}"
    if not np.isfinite(vec).all():
        yield row, "feature_path", "feature-not-finite", "stored vector has NaN or inf values"
        return
    if pd.notna(rec.get("checksum")) and vector_checksum(vec) != rec["checksum"]:
        yield row, "checksum", "feature-checksum", "stored vector does not match its checksum"
    if rec.get("feature_type") in UNIT_NORM or rec.get("feature_name") in UNIT_NORM_NAMES:
        norm = float(np.linalg.norm(vec.astype(np.float64)))
        tol = NORM_TOLERANCE.get(str(vec.dtype), 1e-5)
        if abs(norm - 1) > tol:
            yield (
                row,
                "feature_path",
                "feature-norm",
                f"embedding has norm {norm:.6f}, expected 1 within {tol}",
            )


def _summary(base: Path, rec: dict, row: int) -> Iterator[Problem]:
    text = rec.get("feature_value_json")
    if not isinstance(text, str) or not text:
        path = rec.get("feature_path")
        target = (base / str(path)).resolve() if isinstance(path, str) else None
        if target is None or not target.is_relative_to(base) or not target.is_file():
            yield row, "feature_path", "feature-missing", f"summary file {path} does not exist"
            return
        text = target.read_text()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        yield row, "feature_value_json", "feature-json", f"not JSON: {exc}"
        return
    if rec.get("feature_name") == "acoustic_indicators":
        if not isinstance(value, dict):
            yield row, "feature_value_json", "feature-json", "indicators: not a JSON object"
            return
        bad_values = sorted(
            k
            for k, v in value.items()
            if v is not None and (not isinstance(v, int | float) or not np.isfinite(v))
        )
        if bad_values:
            yield (
                row,
                "feature_value_json",
                "feature-not-finite",
                f"indicators that are not finite numbers: {bad_values[:5]}",
            )
        return
    groups = value.get("group_ratios", {}) if isinstance(value, dict) else None
    if not isinstance(groups, dict) or not all(
        isinstance(r, int | float) and not isinstance(r, bool) for r in groups.values()
    ):
        yield (
            row,
            "feature_value_json",
            "feature-json",
            "not a segmentation summary: expected an object whose group_ratios maps group "
            "names to numbers",
        )
        return
    bad = {g: r for g, r in groups.items() if not (0 <= float(r) <= 1)}
    if bad:
        yield row, "feature_value_json", "feature-ratios", f"group ratios outside [0, 1]: {bad}"
    total = sum(float(r) for r in groups.values())
    if total > 1 + GROUP_SLACK:
        yield (row, "feature_value_json", "feature-ratios", f"group ratios sum to {total:.6f} > 1")


def _provenance(rec: dict, row: int) -> Iterator[Problem]:
    try:
        prov = json.loads(rec.get("provenance_json") or "")
    except json.JSONDecodeError as exc:
        yield row, "provenance_json", "feature-provenance", f"not JSON: {exc}"
        return
    if not isinstance(prov, dict):
        yield row, "provenance_json", "feature-provenance", "not a JSON object"
        return
    required = (
        *REQUIRED_PROVENANCE.get(str(rec.get("feature_type")), ()),
        *REQUIRED_BY_NAME.get(str(rec.get("feature_name")), ()),
    )
    missing = [k for k in required if k not in prov]
    if missing:
        yield row, "provenance_json", "feature-provenance", f"missing keys {missing}"
