"""The pipeline's stages, one module each: `python -m fmnist.pipeline.stages NAME [--root DIR]`.

`python -m` imports this package before its `__main__` installs the Ctrl-C guard, so it
imports nothing: what the stages share lives in `runner.py`.
"""

NAMES = ("check", "prepare", "ood_sets", "profile", "train", "evaluate", "predict")
