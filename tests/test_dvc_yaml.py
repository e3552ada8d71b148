"""dvc.yaml against the code: DVC does not follow imports, so every stage must list them itself."""

import ast
import subprocess
import sys
import typing

import pytest
import yaml

from fmnist.params import Params

from .conftest import ROOT

PACKAGE = ROOT / "src" / "fmnist"
STAGES = ("check", "prepare", "train", "evaluate", "predict")


def imported_modules(module: str) -> set[str]:
    """Project modules `module` imports, directly or through other project modules."""
    seen: set[str] = set()
    pending = [module]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "fmnist":
                pending += [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fmnist."):
                pending.append(node.module.removeprefix("fmnist."))
            elif isinstance(node, ast.Import):
                pending += [
                    a.name.removeprefix("fmnist.")
                    for a in node.names
                    if a.name.startswith("fmnist.")
                ]
    return seen


def stage_spec(stage: str) -> dict:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]


def test_every_stage_exists_and_runs_its_module():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    assert list(stages) == list(STAGES)
    for stage in STAGES:
        assert stages[stage]["cmd"] == f"python -m fmnist.{stage}"


def test_code_deps_are_exactly_the_imported_modules():
    for stage in STAGES:
        listed = {dep for dep in stage_spec(stage)["deps"] if dep.startswith("src/")}
        expected = {f"src/fmnist/{name}.py" for name in imported_modules(stage) | {"__init__"}}
        assert listed == expected, stage


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
        source = (PACKAGE / f"{stage}.py").read_text()
        assert f"load_params().{stage}" in source  # the stage reads its own section only


@pytest.mark.parametrize("module", ["check", "prepare", "evaluate", "predict", "cli", "inference"])
def test_only_train_imports_tensorflow(module):
    probe = f"import sys, fmnist.{module}; print({{'tensorflow', 'keras'}} & set(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "set()"


def test_dvcignore_keeps_bytecode_out_of_hashes():
    assert "__pycache__/" in (ROOT / ".dvcignore").read_text().split()
