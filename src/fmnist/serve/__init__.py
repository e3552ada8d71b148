"""`fmnist serve`: the shipped model.tflite over the Open Inference Protocol (KServe V2), with
Triton's binary-tensor and classification extensions, a page at `/`, reloads and metrics."""
