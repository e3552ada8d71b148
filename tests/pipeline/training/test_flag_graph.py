"""The flag inside model.tflite's graph against its NumPy reference (fmnist.pipeline.ood.semantic),
on clothing and on inputs unlike it: the same scores and the same checks."""

from __future__ import annotations

import numpy as np
import pytest

from fmnist.inference.classifier import load_classifier
from fmnist.ood.score import KIND_OUTPUTS


@pytest.fixture(scope="module")
def fitted(trained, real_train, profile):
    from fmnist.pipeline.ood.profile_format import from_bytes
    from fmnist.pipeline.training.flag_fit import fit_for

    return fit_for(trained[0], from_bytes(profile), real_train.images)


def inputs_unlike_clothing(real_test) -> np.ndarray:
    rng = np.random.default_rng(3)
    letters = np.zeros((2, 28, 28), np.float32)
    letters[0, 4:24, 12:16] = 1.0  # an I
    letters[1, 4:8, 4:24], letters[1, 4:24, 12:16] = 1.0, 1.0  # a T
    return np.concatenate(
        [
            real_test.images[:500],
            rng.random((50, 28, 28), dtype=np.float32),
            np.zeros((1, 28, 28), np.float32),
            np.ones((1, 28, 28), np.float32),
            letters,
            real_test.images[:50, :, ::-1] * 0.3,
        ]
    )


def test_the_graphs_scores_and_checks_are_the_numpy_references(trained, fitted, real_test):
    from fmnist.pipeline.ood import semantic
    from fmnist.pipeline.training.export import features_of

    images = inputs_unlike_clothing(real_test)
    outputs = load_classifier(trained[1]).run(images)
    table = semantic.values(images, features_of(trained[0]).predict(images, verbose=0), fitted)
    for kind, (score_name, check_name) in KIND_OUTPUTS.items():
        reference = semantic.assess(table, fitted, kind)
        assert np.allclose(outputs[score_name], reference.score, rtol=1e-4, atol=1e-4), kind
        ratios = np.sort(semantic.check_ratios(table, fitted.spreads[kind]), axis=1)
        clear = ratios[:, -1] - ratios[:, -2] > 1e-3  # a near tie may go either way
        assert np.array_equal(outputs[check_name][clear], reference.check[clear]), kind
        assert clear.mean() > 0.9
    flagged = outputs["ood_score"] > 1
    assert flagged[:500].mean() < 0.12 and flagged[500:-50].all()
