"""Device and precision choices: what auto means, and clear refusals."""

import pytest
import torch

from seqgen.hardware.device import autocast, choose_device, resolve_precision
from seqgen.errors import UsageError
from seqgen.hardware.precision import fastest_cpu_precision, runs_in

CPU = torch.device("cpu")


def test_auto_precision_on_the_cpu_is_the_fastest_that_runs():
    assert resolve_precision("auto", CPU) == fastest_cpu_precision()
    assert resolve_precision("fp32", CPU) == "fp32"
    if runs_in("bf16", "cpu"):
        assert resolve_precision("bf16", CPU) == "bf16"


def test_refusals():
    with pytest.raises(UsageError, match="fp16 cannot run on this CPU"):
        resolve_precision("fp16", CPU)
    with pytest.raises(UsageError, match="--precision must be one of"):
        resolve_precision("fp8", CPU)
    with pytest.raises(UsageError, match="not a device"):
        choose_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA GPU"):
            choose_device("cuda")


def test_autocast_runs_matrix_products_in_bf16_only_when_asked():
    a = torch.randn(4, 4)
    with autocast(CPU, "bf16"):
        assert (a @ a).dtype == torch.bfloat16
    with autocast(CPU, "fp32"):
        assert (a @ a).dtype == torch.float32
