"""Does an input look like Fashion-MNIST at all? The flag's verdict, as users see it.

The classifier gives every input a clothing label, noise and blank images included, often with
high confidence; its own outputs cannot tell (measured: max softmax and logit energy scored
AUROC 0.20-0.82 against noise). The shipped model.tflite computes a score beside the logits, in
the same invoke: `score` reads it (which outputs, the checks' names, the verdict in the CLI's
and the server's form). Fitting the checks and measuring them is the pipeline's
(fmnist.pipeline.ood); building them into the graph, train's (fmnist.pipeline.training).
"""
