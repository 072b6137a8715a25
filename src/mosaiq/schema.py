"""Table schemas composed from the shared fragments in ``shared_schemas/``.

Every dataset's tables are generated, never hand-copied: a :class:`TableSpec` lists, in column
order, shared fragment names (``"paq_ratings"`` is ``shared_schemas/paq_ratings.fields.yaml``) and
the dataset's own fields (inline dicts, defined in its adapter). Fragments carry placeholders
(``${dataset_id}``, ``${scale.minimum}``, ``${angle_table}``, ``${reason_codes}``) that the
dataset's values fill in. The generated schemas are written into each package, so every package is
self-contained and validates with plain ``frictionless validate``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mosaiq.errors import MosaiqError
from mosaiq.settings import read_yaml

SHARED_DIR = "shared_schemas"
_PLACEHOLDER = re.compile(r"\$\{([a-z_.]+)\}")

Part = str | Mapping[str, Any]

CLIP_FK = [{"fields": ["clip_id"], "reference": {"resource": "clips", "fields": ["clip_id"]}}]
"""The foreign key of every table whose rows belong to a clip."""


@dataclass(frozen=True)
class TableSpec:
    """One table of a package: its parts in column order, keys, and how its rows are sorted."""

    name: str
    title: str
    parts: Sequence[Part]
    primary_key: Sequence[str]
    foreign_keys: Sequence[Mapping[str, Any]] = ()
    description: str = ""
    base: str | None = None
    """A whole shared table schema (``shared_schemas/<base>.schema.yaml``) to start from."""
    sort_by: Sequence[str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def _substitute(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {k: _substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute(v, values) for v in node]
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole:  # a value that is only a placeholder keeps the value's type (number, list)
            return _lookup(values, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(_lookup(values, m.group(1))), node)
    return node


def _lookup(values: Mapping[str, Any], key: str) -> Any:
    if key not in values:
        raise MosaiqError(f"schema placeholder ${{{key}}} has no value for this dataset")
    return values[key]


def load_fragment(root: Path, name: str, kind: str = "fields") -> dict[str, Any]:
    path = root / SHARED_DIR / f"{name}.{kind}.yaml"
    if not path.is_file():
        raise MosaiqError(f"{path}: shared schema fragment not found")
    return copy.deepcopy(read_yaml(path))


def compose(root: Path, spec: TableSpec, values: Mapping[str, Any]) -> dict[str, Any]:
    """The Table Schema (a dict) of ``spec`` with the dataset's ``values`` filled in."""
    schema: dict[str, Any] = {}
    fields: list[dict[str, Any]] = []
    if spec.base:
        base = load_fragment(root, spec.base, "schema")
        fields.extend(base.pop("fields"))
        schema.update(base)
    for part in spec.parts:
        if isinstance(part, str):
            fields.extend(load_fragment(root, part)["fields"])
        else:
            fields.append(dict(part))
    names = [f["name"] for f in fields]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise MosaiqError(f"table {spec.name}: fields defined twice: {', '.join(duplicates)}")
    out: dict[str, Any] = {
        "$schema": "https://specs.frictionlessdata.io/schemas/table-schema.json",
        "title": spec.title or schema.get("title", spec.name),
    }
    description = spec.description or schema.get("description")
    if description:
        out["description"] = description
    out["fields"] = fields
    out["primaryKey"] = list(spec.primary_key or schema.get("primaryKey", []))
    foreign = list(spec.foreign_keys) or schema.get("foreignKeys", [])
    if foreign:
        out["foreignKeys"] = foreign
    out["missingValues"] = [""]
    out.update(spec.extra)
    return _substitute(out, values)


def field_names(schema: Mapping[str, Any]) -> list[str]:
    return [f["name"] for f in schema["fields"]]


def pandas_dtypes(schema: Mapping[str, Any]) -> dict[str, str]:
    """Pandas dtypes of a schema's fields (nullable types: integers stay integers)."""
    mapping = {
        "integer": "Int64",
        "number": "float64",
        "boolean": "boolean",
        "string": "string",
    }
    return {f["name"]: mapping.get(f.get("type", "string"), "string") for f in schema["fields"]}
