"""The registry of sources: one typed Source per dataset, consistent with the package it builds."""

from __future__ import annotations

import ast

import pytest
import yaml

from mosaiq.errors import MosaiqError
from mosaiq.settings import DATASETS, param
from mosaiq.sources import SOURCE_MODULES, source
from mosaiq.sources.base import Source
from tests.conftest import REPO


def test_registry_is_keyed_by_dataset_id_in_catalogue_order():
    assert tuple(SOURCE_MODULES) == DATASETS
    for ds in DATASETS:
        declared = source(ds)
        assert isinstance(declared, Source)
        assert declared.dataset_id == ds
    with pytest.raises(MosaiqError, match="unknown dataset 'XYZ'"):
        source("XYZ")


def test_a_source_is_frozen():
    with pytest.raises(AttributeError):
        source("ISD").committed = False  # type: ignore[misc]


@pytest.mark.parametrize("ds", DATASETS)
def test_raw_files_are_named_by_params_keys_that_exist(ds):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for raw in source(ds).raw_files:
        assert raw.param.startswith(f"build.{ds}."), raw
        assert param(params, raw.param, "absent") != "absent", f"params.yaml has no {raw.param}"


@pytest.mark.parametrize("ds", DATASETS)
def test_declared_columns_are_in_the_schemas_the_build_writes(ds):
    declared = source(ds)
    schemas = REPO / "datasets" / ds / "schemas"
    clips = {
        f["name"] for f in yaml.safe_load((schemas / "clips.schema.yaml").read_text())["fields"]
    }
    responses = {
        f["name"] for f in yaml.safe_load((schemas / "responses.schema.yaml").read_text())["fields"]
    }
    assert set(declared.acoustic_columns) <= clips
    assert set(declared.label_columns) <= clips & responses
    assert {f"mean_{c}" for c in declared.mean_columns} <= clips
    assert set(declared.mean_columns) <= responses
    genders = next(
        f
        for f in yaml.safe_load((schemas / "responses.schema.yaml").read_text())["fields"]
        if f["name"] == "gender"
    )
    assert genders["constraints"]["enum"] == list(declared.gender_values)
    assert {"clip_id", "response_id", "participant_id"} <= set(declared.id_rules)


def test_what_each_source_declares():
    assert [ds for ds in DATASETS if source(ds).committed] == ["ISD"]
    assert len(source("ISD").acoustic_columns) == 96
    assert len(source("DeLTA").label_columns) == 24
    assert source("DeLTA").scale is None and source("DeLTA").finish_clips is not None
    assert all(source(ds).media is None for ds in DATASETS)  # no media layout published yet


def _imports(path):
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_only_the_build_runs_adapters():
    """Later stages read the package as written: they import neither the build nor an adapter
    (the CLI starts the build; the registry is the one way to a dataset's declaration)."""
    src = REPO / "src" / "mosaiq"
    adapters = set(SOURCE_MODULES.values())
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).as_posix()
        if rel.startswith("sources/") or rel in ("build.py", "cli.py"):
            continue
        imported = _imports(path)
        assert "mosaiq.build" not in imported, f"{rel} imports the build"
        assert not imported & adapters, f"{rel} imports an adapter directly"


def test_no_code_outside_sources_tests_a_dataset_name():
    src = REPO / "src" / "mosaiq"
    for path in src.rglob("*.py"):
        rel = path.relative_to(src).as_posix()
        if rel.startswith("sources/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                names = [
                    c.value
                    for c in [node.left, *node.comparators]
                    if isinstance(c, ast.Constant) and c.value in DATASETS
                ]
                assert not names, f"{rel}:{node.lineno} compares with {names}"
