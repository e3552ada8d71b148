"""The README's LiteRT snippet, run as a user who deploys model.tflite elsewhere would run it."""

import re
import subprocess
import sys

from fmnist.core.dataset import save_split

from .conftest import ROOT


def test_the_litert_snippet_classifies_test_image_0(trained, real_test, tmp_path):
    readme = (ROOT / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(.*?from ai_edge_litert.*?)```", readme, re.S)
    (tmp_path / "models").mkdir()
    (tmp_path / "models/model.tflite").write_bytes(trained[1].read_bytes())
    save_split(tmp_path / "data/prepared/test.npz", real_test)
    # A process of its own, as in a user's script: no fmnist import, no TensorFlow.
    probe = snippet + "\nimport sys; assert not {'tensorflow', 'fmnist'} & set(sys.modules)\n"
    run = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Ankle boot\n"
