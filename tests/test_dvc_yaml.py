"""dvc.yaml against the code: DVC does not follow imports, so every stage must list them itself."""

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest
import yaml

from fmnist.pipeline.params import Params

from .conftest import ROOT

SRC = ROOT / "src"
STAGES = ("check", "prepare", "ood_sets", "profile", "train", "evaluate", "predict")
# What `python -m fmnist.pipeline.stages NAME` runs before the stage's own module.
DISPATCH = "fmnist.pipeline.stages.__main__"
# Every command finds the project's environment, activated or not.
PATH_FIRST = 'PATH="$DVC_ROOT/.venv/bin:$PATH"'


def module_file(module: str) -> Path:
    """The source file of a project module: a package's __init__.py, else its .py file."""
    base = SRC.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def imported_files(*modules: str) -> set[str]:
    """Source files (relative to ROOT) of `modules` and of every project module they import,
    directly or through others, the packages' __init__.py files included (Python runs them)."""
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        name = pending.pop()
        parts = name.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        pending += [
            ".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in seen
        ]
        if name in seen or not module_file(name).is_file():
            continue
        seen.add(name)
        for node in ast.walk(ast.parse(module_file(name).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fmnist"):
                pending.append(node.module)
                # `from fmnist.core import paths` imports the module fmnist.core.paths
                pending += [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                pending += [a.name for a in node.names if a.name.startswith("fmnist")]
    return {str(module_file(name).relative_to(ROOT)) for name in seen}


def expanded(deps: list[str]) -> set[str]:
    """A stage's code deps with each directory dep replaced by the .py files in it."""
    files = set()
    for dep in deps:
        if dep.startswith("src/"):
            path = ROOT / dep
            found = path.rglob("*.py") if path.is_dir() else [path]
            files |= {str(p.relative_to(ROOT)) for p in found if "__pycache__" not in p.parts}
    return files


def stage_spec(stage: str) -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]


def test_every_stage_exists_and_runs_its_module():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == list(STAGES)
    for stage in STAGES:
        assert stages[stage]["cmd"] == f"{PATH_FIRST} python -m fmnist.pipeline.stages {stage}"


def test_code_deps_are_exactly_the_imported_modules():
    """Directory deps expanded: no stage depends on code it does not import, and none misses
    code it does (the dispatcher's own imports included)."""
    for stage in STAGES:
        listed = expanded(stage_spec(stage)["deps"])
        assert listed == imported_files(DISPATCH, f"fmnist.pipeline.stages.{stage}"), stage


def test_directory_deps_hold_only_what_every_user_imports():
    """core is imported by every stage, training by train alone: a module added to either that
    some stage does not import fails the test above; this one says which directories exist."""
    directories = {
        dep for stage in STAGES for dep in stage_spec(stage)["deps"] if (ROOT / dep).is_dir()
    }
    assert directories == {"src/fmnist/core", "src/fmnist/pipeline/training"}


# evaluate has no params: what it computes follows from the model and the data alone.
PARAMETRISED = ("prepare", "train", "predict")


def test_params_are_exactly_the_stage_section():
    assert set(typing.get_type_hints(Params)) == set(PARAMETRISED)
    assert "params" not in stage_spec("evaluate")
    # check reads the whole file; prepare, the first stage that deletes outputs, waits for it.
    assert "params" not in stage_spec("check") and "params.yaml" in stage_spec("check")["deps"]
    assert stage_spec("check")["outs"] == ["data/params.checked"]
    assert "data/params.checked" in stage_spec("prepare")["deps"]
    for stage in PARAMETRISED:
        assert stage_spec(stage)["params"] == [stage]
    # That each stage reads only its own section is shown by running it: tests/pipeline/stages/.


@pytest.mark.parametrize(
    "module",
    [
        "pipeline.stages.check",
        "pipeline.stages.prepare",
        "pipeline.stages.evaluate",
        "pipeline.stages.predict",
        "cli",
        "inference.classifier",
    ],
)
def test_only_train_imports_tensorflow(module):
    probe = f"import sys, fmnist.{module}; print({{'tensorflow', 'keras'}} & set(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "set()"


def test_dvcignore_keeps_bytecode_out_of_hashes():
    assert "__pycache__/" in (ROOT / ".dvcignore").read_text().split()
