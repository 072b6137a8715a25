"""The writer every feature shares: values, records, checkpoints, resume, provenance.

- A feature *definition* is the settings that change its numbers (model, weights, sampling,
  precision, stored dtype; a class map's hash). :func:`definition_id` is a hash of it and part
  of every ``feature_id``, so two definitions of a feature live side by side in one record file.
- ``append`` computes only the clips with no record for this definition and keeps every
  existing record; ``overwrite`` rebuilds the feature from scratch.
- Values are stored first (arrays or JSON files, each written atomically), then the record file
  is rewritten atomically: an interrupted run (even ``kill -9``) leaves either a record with its
  value or a value no record refers to, which :meth:`FeatureWriter.start` deletes. The run then
  resumes where the last checkpoint ended, with no duplicates.
- Each record carries its provenance as JSON: what the feature gives for every clip, plus what
  the reader found for this clip (the frames or windows used).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mosaiq.errors import MosaiqError
from mosaiq.features.store import (
    ValueStore,
    read_records,
    record_keys,
    write_folder_index,
    write_records,
)

if TYPE_CHECKING:
    from mosaiq.features.runner import Decoded, Value

MODES = ("append", "overwrite")


@dataclass(frozen=True)
class FeatureSpec:
    """What names a feature in its records."""

    name: str  # the record file and array folder: features/<name>.csv, features/<name>/
    feature_type: str  # FeatureRecord.feature_type
    modality: str = "visual"  # FeatureRecord.source_modality


def definition_id(definition: dict[str, Any]) -> str:
    """A short hash of a feature definition (the settings that change its numbers)."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()[:16]


def provenance_json(provenance: dict[str, Any]) -> str:
    return json.dumps(provenance, sort_keys=True, separators=(",", ":"))


class FeatureWriter:
    """Stores the values of one feature definition of a dataset and their records."""

    def __init__(
        self,
        root: Path,
        dataset: str,
        spec: FeatureSpec,
        definition: dict[str, Any],
        store: ValueStore,
        *,
        mode: str = "append",
    ) -> None:
        if mode not in MODES:
            raise MosaiqError(f"mode {mode!r} is not one of {MODES}")
        self.root, self.dataset, self.spec, self.store = root, dataset, spec, store
        self.definition = definition
        self.definition_id = definition_id(definition)
        self.provenance: dict[str, Any] = {}  # for every record (set before the first flush)
        records = read_records(root, dataset, spec.name)
        self.records = records.iloc[0:0] if mode == "overwrite" else records
        self._pending: list[tuple[Decoded, Value]] = []

    def recorded(self) -> set[str]:
        """Clip ids that already have a record of this definition."""
        mine = self.records["definition_id"] == self.definition_id
        return set(self.records.loc[mine, "clip_id"].astype(str))

    def start(self) -> None:
        """Write the record file (it always exists: it is a stage output) and delete the stored
        values no record refers to (what an interrupted run left behind)."""
        write_records(self.root, self.dataset, self.spec.name, self.records)
        self.store.folder.mkdir(parents=True, exist_ok=True)
        if self.store.indexed:
            write_folder_index(self.store.folder)
        self.store.remove_unreferenced(set(self.records["feature_path"].dropna().astype(str)))

    def add(self, decoded: Decoded, value: Value) -> None:
        self._pending.append((decoded, value))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> int:
        """Store the pending values, then rewrite the record file; the number of clips saved."""
        if not self._pending:
            return 0
        located = self.store.put_values(
            [d.clip_id for d, _ in self._pending], [v for _, v in self._pending]
        )
        rows = [
            {
                **record_keys(
                    self.dataset,
                    d.clip_id,
                    self.spec.name,
                    self.spec.feature_type,
                    self.definition_id,
                    self.spec.modality,
                ),
                **d.fields,
                "provenance_json": provenance_json({**self.provenance, **d.provenance}),
                **where,
            }
            for (d, _), where in zip(self._pending, located, strict=True)
        ]
        new = pd.DataFrame(rows)
        self.records = (
            pd.concat([self.records, new], ignore_index=True) if not self.records.empty else new
        )
        write_records(self.root, self.dataset, self.spec.name, self.records)
        done = len(self._pending)
        self._pending.clear()
        return done


def code_version(root: Path) -> str:
    """The package version and the checkout's commit, read from .git without running git."""
    from mosaiq import __version__

    head = root / ".git" / "HEAD"
    commit = ""
    try:
        ref = head.read_text().strip()
        if ref.startswith("ref: "):
            ref_file = root / ".git" / ref[5:]
            commit = ref_file.read_text().strip() if ref_file.is_file() else ""
        else:
            commit = ref
    except OSError:
        pass
    return f"mosaiq {__version__}" + (f" ({commit[:12]})" if commit else "")


def libraries(*names: str) -> dict[str, str]:
    """Installed versions of the libraries that computed a feature."""
    from importlib.metadata import version

    return {lib: version(lib) for lib in names}


def generated_at() -> str:
    """Now in UTC, to the second, or ``SOURCE_DATE_EPOCH`` when it is set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.replace(microsecond=0).isoformat()
