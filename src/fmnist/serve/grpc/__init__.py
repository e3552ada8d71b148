"""The Open Inference Protocol over gRPC: KServe V2's GRPCInferenceService beside the HTTP API."""
