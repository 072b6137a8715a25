"""dvc.yaml lists exactly the modules and params each stage's command runs and reads.

Derived, not typed in: the command of each stage (``mosaiq build ISD``) names a CLI command; the
CLI command's body imports the module it runs (cli.py imports lazily, one module per command);
the import closure of that module within ``src/mosaiq`` (every ``import`` in a module, at any
depth, since a lazy import runs too) is the set of modules the stage runs. The registry
(:mod:`mosaiq.sources`) imports an adapter only when asked for it: a stage for one dataset runs
that dataset's adapter, any other stage that uses the registry may run all of them.

Params: the dotted keys the command's own module passes to ``param(params, ...)``,
``data_version(params)`` (``version``) and, for a build, the keys its adapter reads through
``require_dataset_param(params, DS)`` (``build.<DS>``), expanded into the leaf keys of
params.yaml (the command's module loads params.yaml and hands it down only to the adapter). A key
of another dataset (``video.ARAUS`` for an ISD stage) is not read, a dataset without PAQs reads
none of ``build.harmonise``, and the settings in ``RUNTIME_ONLY`` change how fast a result comes,
never the result, so they are deliberately not deps.

Static analysis only (``ast``): no module is imported, no stage is run.
"""

from __future__ import annotations

import ast
import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

from mosaiq.sources import SOURCE_MODULES, source
from tests.conftest import REPO

SRC = REPO / "src"
REGISTRY = "mosaiq.sources"
RUNTIME_ONLY = {
    "clip.batch_size",
    "clip.threads",
    "clip.device",
    "compute.scheduler",
    "compute.workers",
    "compute.shard_size",
    "compute.timeout_s",
}
"""Settings that change speed, not bytes: a change must not re-run the stage."""


def _module_file(name: str) -> Path | None:
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(node: ast.AST) -> list[str]:
    """``mosaiq`` modules an import statement loads (``from mosaiq import export`` -> the
    submodule; ``from mosaiq import __version__`` -> the package)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "mosaiq"]
    if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "mosaiq":
        out = []
        for alias in node.names:
            sub = f"{node.module}.{alias.name}"
            out.append(sub if _module_file(sub) else node.module)
        return out
    return []


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skipped


@cache
def _tree(name: str) -> ast.Module:
    path = _module_file(name)
    assert path is not None, f"no module {name}"
    return ast.parse(path.read_text(), filename=str(path))


@cache
def _direct_imports(name: str) -> tuple[str, ...]:
    tree = _tree(name)
    skipped = _type_checking_only(tree)
    # ``mosaiq/__init__.py`` imports its submodules only when ``mosaiq.load`` (etc.) is asked
    # for; ``from mosaiq import __version__`` runs its module level alone.
    nodes = tree.body if name == "mosaiq" else list(ast.walk(tree))
    found = {m for n in nodes if id(n) not in skipped for m in _imported(n)}
    return tuple(sorted(found - {name}))


def closure(roots: list[str], datasets: list[str]) -> set[str]:
    """Modules run from ``roots``; the registry brings the adapters of ``datasets``."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_direct_imports(name))
        if name == REGISTRY:
            todo.extend(SOURCE_MODULES[ds] for ds in datasets)
    return seen


def cli_commands() -> dict[str, list[str]]:
    """``"build"``, ``"features clip"``, ... -> the mosaiq modules the command's body imports."""
    tree = _tree("mosaiq.cli")
    groups = {"app": "", "features_app": "features "}
    out: dict[str, list[str]] = {}
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (
                isinstance(deco, ast.Call)
                and isinstance(deco.func, ast.Attribute)
                and deco.func.attr == "command"
                and isinstance(deco.func.value, ast.Name)
                and deco.func.value.id in groups
            ):
                continue
            named = [k.value for k in deco.keywords if k.arg == "name"] + list(deco.args)
            name = named[0].value if named else node.name.replace("_", "-")  # type: ignore[attr-defined]
            modules = sorted({m for n in ast.walk(node) for m in _imported(n)})
            out[groups[deco.func.value.id] + name] = modules
    return out


def _cli_module_imports() -> list[str]:
    """What every command runs besides its own module: cli.py's module-level imports and the
    root lookup every command does."""
    tree = _tree("mosaiq.cli")
    top = [m for n in tree.body for m in _imported(n)]
    root_fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_root")
    return [*top, *(m for n in ast.walk(root_fn) for m in _imported(n))]


@cache
def dvc_stages() -> dict[str, dict]:
    """Resolved stages of dvc.yaml (foreach expanded by DVC itself)."""
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        out = {}
        for stage in repo.index.stages:
            deps, params = [], []
            for dep in stage.deps:
                if type(dep).__name__ == "ParamsDependency":
                    params.extend(dep.params)
                else:
                    deps.append(str(dep.def_path))
            out[stage.addressing] = {"cmd": stage.cmd, "deps": deps, "params": params}
    return out


def _stage_command(cmd: str) -> tuple[str, list[str]]:
    """(CLI command, datasets named on the command line) of a stage's ``mosaiq ...`` command."""
    words = shlex.split(cmd)
    assert words[0] == "mosaiq", f"a stage runs one mosaiq command, not {cmd!r}"
    words = [w for w in words[1:] if not w.startswith("-")]
    command = " ".join(words[:2]) if words[0] == "features" else words[0]
    datasets = [w for w in words if w in SOURCE_MODULES]
    return command, datasets or list(SOURCE_MODULES)


def _file_of(module: str) -> str:
    path = _module_file(module)
    assert path is not None
    return path.relative_to(REPO).as_posix()


def stage_modules(address: str) -> tuple[set[str], list[str], set[str]]:
    """(module files the stage runs, its datasets, the modules that read its params)."""
    command, datasets = _stage_command(dvc_stages()[address]["cmd"])
    commands = cli_commands()
    assert command in commands, f"{address}: no CLI command {command!r}"
    roots = [*_cli_module_imports(), *commands[command]]
    files = {_file_of(m) for m in closure(roots, datasets)}
    # The package's own __init__ (the installed version) is the entry point, not the stage's
    # logic: listing it would make every stage re-run on any change of it.
    files -= {"src/mosaiq/__init__.py"}
    readers = set(commands[command])
    if command == "build":
        readers |= {"mosaiq.sources.base", *(SOURCE_MODULES[ds] for ds in datasets)}
    return files, datasets, readers


def test_cli_commands_import_their_module():
    commands = cli_commands()
    assert commands["build"] == ["mosaiq.build"]
    assert commands["features collect"] == ["mosaiq.features.store"]
    assert commands["validate"] == ["mosaiq.validate"]
    assert all(len(mods) <= 2 for mods in commands.values()), commands


def test_closure_follows_lazy_imports_and_the_registry():
    isd_build = closure(["mosaiq.build"], ["ISD"])
    assert {"mosaiq.sources.isd", "mosaiq.sources.base", "mosaiq.harmonise"} <= isd_build
    assert "mosaiq.sources.satp" not in isd_build  # one dataset, one adapter
    assert "mosaiq.catalogue" in closure(["mosaiq.validate"], list(SOURCE_MODULES))  # lazy


@pytest.mark.parametrize("address", sorted(dvc_stages()))
def test_stage_lists_exactly_the_modules_it_runs(address):
    expected, _, _ = stage_modules(address)
    listed = {d for d in dvc_stages()[address]["deps"] if d.startswith("src/")}
    assert not (expected - listed), f"{address}: dvc.yaml misses {sorted(expected - listed)}"
    assert not (listed - expected), f"{address}: dvc.yaml lists {sorted(listed - expected)}"


def _leaves(node: object, prefix: str) -> set[str]:
    if isinstance(node, dict) and node:
        return {leaf for k, v in node.items() for leaf in _leaves(v, f"{prefix}.{k}")}
    return {prefix}


def _params_read(modules: set[str], datasets: list[str]) -> set[str]:
    """Dotted params.yaml keys the modules read (f-string placeholders -> each dataset)."""
    keys: set[str] = set()
    for module in modules:
        for node in ast.walk(_tree(module)):
            if not isinstance(node, ast.Call):
                continue
            fn = ast.unparse(node.func)
            if fn == "data_version":
                keys.add("version")
            elif fn == "require_dataset_param":
                keys.update(f"build.{ds}" for ds in datasets)
            elif fn == "param" and len(node.args) >= 2:
                text = ast.unparse(node.args[1]).strip("f'\"")
                keys.update(re.sub(r"\{\w+\}", ds, text) for ds in datasets)
    return keys


def _expand(keys: set[str], params: dict) -> set[str]:
    out = set()
    missing = object()
    for key in keys:
        node: object = params
        for part in key.split("."):
            node = node.get(part, missing) if isinstance(node, dict) else missing
        if node is not missing:
            out |= _leaves(node, key)
    return out


@pytest.mark.parametrize("address", sorted(dvc_stages()))
def test_stage_lists_exactly_the_params_it_reads(address):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    _, datasets, readers = stage_modules(address)
    expected = _expand(_params_read(readers, datasets), params)
    others = set(SOURCE_MODULES) - set(datasets)
    expected = {k for k in expected if not (set(k.split(".")) & others)} - RUNTIME_ONLY
    if len(datasets) == 1 and source(datasets[0]).scale is None:
        expected = {k for k in expected if not k.startswith("build.harmonise")}
    listed = _expand(set(dvc_stages()[address]["params"]), params)
    assert listed == expected, (
        f"{address}: dvc.yaml misses {sorted(expected - listed)}, lists {sorted(listed - expected)}"
    )


@pytest.mark.parametrize("group", ["build", "clip", "acoustics", "clap", "cityseg", "features"])
def test_committed_datasets_are_the_stage_group_kept_out_of_the_cache(group):
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    committed = set(stages[group]["foreach"])
    assert committed == {ds for ds in SOURCE_MODULES if source(ds).committed}
    assert committed.isdisjoint(stages[f"{group}-local"]["foreach"])
    assert committed | set(stages[f"{group}-local"]["foreach"]) == set(SOURCE_MODULES)
    # one definition used twice: the same command, deps and params (YAML anchors)
    for key in ("cmd", "deps", "params"):
        assert stages[group]["do"].get(key) == stages[f"{group}-local"]["do"].get(key), key


def test_data_deps_of_the_later_stages():
    stages = dvc_stages()
    # The catalogue counts rows from the built tables: not from the feature records, so that
    # it does not re-run after the feature stages.
    assert not any("features" in d for d in stages["catalogue"]["deps"])
    export = stages["export"]["deps"]
    assert {"CITATION.cff", "catalogue/schemas", "reports/validation.json"} <= set(export)
    assert {"benchmark/tasks.yaml", "benchmark/splits"} <= set(stages["plots"]["deps"])
    for ds in SOURCE_MODULES:
        collect = stages[f"features@{ds}" if source(ds).committed else f"features-local@{ds}"]
        assert f"datasets/{ds}/schemas/features.schema.yaml" in collect["deps"]
        assert f"datasets/{ds}/datapackage.yaml" in collect["deps"]
