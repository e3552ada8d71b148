"""The user-facing tools: the `fmnist` command, image decoding, remotes and reports."""
