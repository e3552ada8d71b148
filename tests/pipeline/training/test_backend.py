"""TensorFlow's native start-up log: hidden by default, shown when the user asks for it."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # imports TensorFlow in two processes of its own


def load_backend(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = "import fmnist.pipeline.training.backend; import sys; print('late', file=sys.stderr)"
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_start_up_log_is_hidden_and_stderr_still_works():
    loaded = load_backend()
    assert (loaded.returncode, loaded.stderr) == (0, "late\n")


def test_a_user_who_sets_the_log_level_sees_it():
    loaded = load_backend(TF_CPP_MIN_LOG_LEVEL="0")
    assert loaded.returncode == 0 and "oneDNN custom operations are on" in loaded.stderr
