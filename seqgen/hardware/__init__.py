"""The machine a run is on: the device, the precisions it runs (and runs fastest), the CPU's
features and the threads to use."""

# Here, free of torch, so that the command line's options load without it.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
