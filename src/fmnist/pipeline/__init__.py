"""The pipeline: the DVC stages and what only they use (params, sources, training, the flag's
fitting and its sets, figures, calibration, the report, the remote). It needs the `pipeline`
dependency group; the runtime never imports it (docs/architecture.md).

`python -m fmnist.pipeline.stages` imports this package before the Ctrl-C guard is in place, so
it imports nothing.
"""
