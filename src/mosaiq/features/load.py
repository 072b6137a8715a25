"""``mosaiq.load_features(DS, "acoustics" | "clap" | "clip")``: computed features as a table
aligned with ``mosaiq.load(DS, "clips")``.

One row per clip, in the clips table's order, indexed by ``clip_id``; a clip without a value
of the chosen definition is a row of NaN. Acoustic indicators are named columns (ISD names and
units); embeddings are columns ``<feature>_0 ... <feature>_<d-1>`` (``.to_numpy()`` is the
matrix). A record file may hold several definitions of a feature side by side: the latest one
written is taken unless ``definition_id`` names another.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.settings import find_root

FEATURES = {
    "acoustics": "acoustic_indicators",
    "clap": "clap_embedding",
    "clip": "clip_embedding",
}


def load_features(
    dataset: str,
    feature: str,
    *,
    definition_id: str | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    from mosaiq.api import load
    from mosaiq.features.store import dataset_dir, load_vector, read_records

    if feature not in FEATURES:
        raise MosaiqError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
    base = find_root(root)
    name = FEATURES[feature]
    clips = load(dataset, "clips", root=base)
    index = pd.Index(clips["clip_id"].astype(str), name="clip_id")
    records = read_records(base, dataset, name)
    if records.empty:
        raise MosaiqError(
            f"{dataset} has no {name} records: run `mosaiq features {feature} {dataset}` "
            f"(or `dvc pull`)"
        )
    chosen = definition_id or str(records["definition_id"].iloc[-1])
    mine = records[records["definition_id"] == chosen]
    if mine.empty:
        known = sorted(set(records["definition_id"].astype(str)))
        raise MosaiqError(f"{dataset} {name}: no definition {chosen!r}; known: {known}")
    ids = mine["clip_id"].astype(str).tolist()
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in mine.to_dict("records")
    ]
    folder = dataset_dir(base, dataset)
    if feature == "acoustics":
        values = [_json_value(folder, r) for r in rows]
        table = pd.DataFrame(values, index=pd.Index(ids, name="clip_id")).astype("float64")
    else:
        matrix = np.stack([load_vector(folder, r) for r in rows])
        cols = [f"{feature}_{i}" for i in range(matrix.shape[1])]
        table = pd.DataFrame(
            matrix.astype(np.float64), index=pd.Index(ids, name="clip_id"), columns=cols
        )
    return table.reindex(index)


def _json_value(folder: Path, record: dict[str, Any]) -> dict[str, float]:
    text = record.get("feature_value_json")
    if not isinstance(text, str) or not text:
        text = (folder / str(record["feature_path"])).read_text()
    value = json.loads(text)
    return {k: (np.nan if v is None else float(v)) for k, v in value.items()}
