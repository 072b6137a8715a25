"""The schemas a build writes, for validation to compare a package's schema files with (a
schema edited by hand is reported). Only validation imports this module."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mosaiq.build import PACKAGE_TABLES, schemas_for
from mosaiq.sources import source


def generated_schemas(
    root: Path, dataset: str, params: Mapping[str, Any]
) -> tuple[tuple[str, ...], dict[str, dict[str, Any]]]:
    """The tables a build of ``dataset`` writes and their schemas as generated from
    ``shared_schemas/``: what validation compares a package's schema files with."""
    return tuple(PACKAGE_TABLES), schemas_for(root, source(dataset), dict(params))
