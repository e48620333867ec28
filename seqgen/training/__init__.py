"""A training run from start to end: the strategy a model type is trained by, the loop and its
step, the learning-rate schedule, checkpoints and run folders, the loss curve, and training on
several processes (``run`` starts or resumes one)."""
