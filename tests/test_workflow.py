"""The GitHub Actions workflow, checked offline: it cannot run on the development machine."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import ROOT

WORKFLOW = ROOT / ".github/workflows/ci.yml"
BIN = Path(sys.executable).parent


def test_workflow_matches_githubs_schema():
    checked = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", WORKFLOW],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_workflow_has_no_zizmor_finding_of_medium_severity_or_above():
    audited = subprocess.run(
        [BIN / "zizmor", "--offline", "--min-severity", "medium", WORKFLOW],
        capture_output=True,
        text=True,
    )
    assert audited.returncode == 0, audited.stdout + audited.stderr


def test_workflow_runs_the_readme_commands_with_pinned_actions():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    test, report = workflow["jobs"]["test"], workflow["jobs"]["report"]
    assert [step.get("run") for step in test["steps"]][-1] == "bash .ci/run"
    commands = " ; ".join(step.get("run", "") for step in report["steps"])
    assert "make repro" in commands and "make report" in commands and "gh pr comment" in commands
    assert report["if"] == "github.event_name == 'pull_request'"
    assert workflow["permissions"] == {"contents": "read"}
    for job in (test, report):
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
                assert step["with"]["persist-credentials"] is False
