"""The machine a run is on: the device, the precisions it runs (and runs fastest), the CPU's
features and the threads to use."""
