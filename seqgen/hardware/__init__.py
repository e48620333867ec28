"""The machine a run is on: the device, the precisions it runs (and runs fastest), the CPU's
features and the threads to use."""

# Here, free of torch, so that the command line's options load without it.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Weights (of the layers an int8 copy replaces: recurrent and linear) from which sampling on the
# CPU takes the model's int8 copy (``--precision auto``). Below, the fp32 weights are few enough to
# stay in the core's caches, and an int8 step's own cost (it quantizes its input at every step)
# outweighs the bytes it saves (scripts/int8_sampling_report.py).
INT8_FROM = 400_000
