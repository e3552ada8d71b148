"""Does an input look like Fashion-MNIST at all? A score and a flag for every prediction.

The classifier gives every input a clothing label, noise and blank images included, often with
high confidence; its own outputs cannot tell (measured: max softmax and logit energy scored
AUROC 0.20-0.82 against noise). The checks here look at the 28x28 pixels instead, so one
profile serves every architecture: `profile` (what train fits and seals into model.tflite),
`score` (the checks, pure NumPy, no TensorFlow), `fit` (the fit and its thresholds), `files`
(clothing as a user's file reaches the model) and `sets` (the images evaluate measures it on).
"""
