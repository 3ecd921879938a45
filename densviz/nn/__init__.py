"""The real PyTorch model and its proof: build it, and check the plan against it."""
