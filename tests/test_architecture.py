"""The architecture as docs/architecture.md draws it: the diagram, the contracts, the sizes."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

from .conftest import ROOT

SRC = ROOT / "src"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
# Imported by every part and importing nothing of the project's: the diagram leaves them out.
BASE = {"core", "memory", "entry"}
# What only the pipeline group installs: the runtime must not load any of it.
PIPELINE_PACKAGES = ("tensorflow", "keras", "sklearn", "scipy", "matplotlib", "yaml", "dvc")
# import-linter's contracts by id: their names, as lint-imports prints them.
CONTRACTS = {
    contract["id"]: contract["name"]
    for contract in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
}


def part(module: str) -> str | None:
    """The diagram's node for a module: a top-level runtime module or folder, or a pipeline one."""
    names = module.split(".")[1:]
    if not names:
        return None
    return ".".join(names[:2]) if names[0] == "pipeline" and len(names) > 1 else names[0]


def code_edges() -> set[tuple[str, str]]:
    """Imports between parts, from the code (grimp: the graph import-linter checks)."""
    graph = grimp.build_graph("fmnist", cache_dir=None)
    edges = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            edges.add((part(module), part(imported)))
    return {(a, b) for a, b in edges if a and b and a != b}


def diagram_edges() -> set[tuple[str, str]]:
    """The arrows of docs/architecture.md's Mermaid diagram, as parts."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = text.split("```mermaid\n", 1)[1].split("```", 1)[0]

    def node(name: str) -> str:
        return {"main": "__main__"}.get(name, name.replace("pipeline_", "pipeline.", 1))

    arrow = re.compile(r"^\s*(\w+)(?:\[[^\]]*\])?\s*-->\s*(\w+)(?:\[[^\]]*\])?\s*$")
    return {
        (node(found[1]), node(found[2])) for found in map(arrow.match, block.splitlines()) if found
    }


def test_the_diagram_draws_every_import_between_parts_and_no_other():
    expected = {(a, b) for a, b in code_edges() if b not in BASE}
    assert diagram_edges() == expected


def test_the_base_imports_nothing_above_it():
    assert not {(a, b) for a, b in code_edges() if a in BASE and b not in BASE}


def test_every_contract_holds():
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "planted", "contract"),
    [
        ("serve/protocol.py", "import fmnist.pipeline.params", "runtime"),
        ("ood/score.py", "import scipy", "runtime"),
        ("pipeline/figures.py", "import keras", "backend"),
        ("decoding.py", "import fmnist.ood.score", "layers"),
        ("pipeline/params.py", "import fmnist.pipeline.sources", "pipeline-layers"),
        ("serve/protocol.py", "import fmnist.serve.service", "serve-layers"),
    ],
)
def test_a_planted_import_breaks_its_contract(tmp_path, module, planted, contract):
    """A copy of the package with one import that the architecture forbids: lint-imports
    fails and names the contract it breaks."""
    shutil.copytree(SRC / "fmnist", tmp_path / "fmnist", ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "fmnist" / module
    target.write_text(target.read_text() + f"\n{planted}  # planted by the test\n")
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{CONTRACTS[contract]} BROKEN" in " ".join(result.stdout.split()), result.stdout


@pytest.mark.parametrize("entry", ["fmnist.cli", "fmnist.serve.server", "fmnist.__main__"])
def test_the_runtime_loads_nothing_of_the_pipeline(entry):
    """`fmnist predict` and `fmnist serve` as a serving install runs them: the command's
    module and the server's, imported in a fresh interpreter."""
    probe = (
        f"import sys, {entry}; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {set(PIPELINE_PACKAGES)!r}), "
        "sorted(m for m in sys.modules if m.startswith('fmnist.pipeline')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["[]", "[]"]


def _distribution(requirement: str) -> str:
    """A requirement's distribution name, normalised (PEP 503): "PyYAML>=6" -> "pyyaml"."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_distributions(runtime: bool) -> dict[str, str]:
    """Distributions the runtime's (or the pipeline's) modules import directly, with a file each."""
    owners = importlib.metadata.packages_distributions()
    found = {}
    for path in sorted(SRC.rglob("*.py")):
        if ("pipeline" in path.relative_to(SRC).parts) == runtime:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            else:
                continue
            for top in {name.split(".")[0] for name in names} - set(sys.stdlib_module_names):
                if top not in ("fmnist", "__future__"):
                    found[_distribution(owners[top][0])] = str(path.relative_to(SRC))
    return found


def test_every_package_imported_directly_is_declared_where_its_part_installs_it():
    """The runtime's imports in the project's dependencies (the wheel's), the pipeline's in
    those or the pipeline group: nothing arrives only as another package's dependency."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = {_distribution(r) for r in project["project"]["dependencies"]}
    pipeline = runtime | {_distribution(r) for r in project["dependency-groups"]["pipeline"]}
    missing = {d: f for d, f in _imported_distributions(runtime=True).items() if d not in runtime}
    missing |= {
        d: f for d, f in _imported_distributions(runtime=False).items() if d not in pipeline
    }
    assert missing == {}


def _sizes() -> list[tuple[str, int]]:
    """Every module and function in src/ with its length in lines."""
    sizes = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        name = str(path.relative_to(SRC))
        sizes.append((name, len(text.splitlines())))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                sizes.append((f"{name}:{node.name}", node.end_lineno - node.lineno + 1))
    return sizes


def test_functions_stay_under_60_lines_and_modules_under_300():
    too_long = [(name, lines) for name, lines in _sizes() if lines > (60 if ":" in name else 300)]
    assert too_long == []
