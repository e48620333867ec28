"""The branches only a GPU takes, checked on the CPU with fake devices: no GPU has run them yet
(the README's "What is tested where"). What is faked is what torch would report; the logic that
reads it is seqgen's own and runs for real."""

import contextlib
from pathlib import Path

import pytest
import torch
import torch.distributed

import seqgen.training.launch
import seqgen.training.step
from seqgen.hardware.device import resolve_precision
from seqgen.training.distributed import World
from seqgen.errors import UsageError
from seqgen.models.rnn import RNNLM
from seqgen.models.rnn_config import ModelConfig
from seqgen.training.step import Stepper

from .helpers import assert_one_line_error, fake_runs, run

CPU, CUDA = torch.device("cpu"), torch.device("cuda")


@pytest.mark.parametrize("native_bf16, able, chosen", [
    (True, ("bf16", "fp16"), "bf16"),  # Ampere and newer
    (False, ("bf16", "fp16"), "fp16"),  # older: bf16 only emulated, so fp16 with loss scaling
    (False, (), "fp32"),
])
def test_auto_on_a_gpu(monkeypatch, native_bf16, able, chosen):
    fake_runs(monkeypatch, *able)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: native_bf16)
    assert resolve_precision("auto", CUDA) == chosen


def test_a_gpu_refuses_what_it_cannot_run_and_mps_trains_in_fp32(monkeypatch):
    fake_runs(monkeypatch, "fp16")
    with pytest.raises(UsageError, match="bf16 cannot run on this cuda device; it can train in fp32 or fp16"):
        resolve_precision("bf16", CUDA)
    assert resolve_precision("fp16", CUDA) == "fp16"
    assert resolve_precision("auto", torch.device("mps")) == "fp32"


def test_fp16_scales_the_loss_and_skips_a_step_whose_gradients_overflow(monkeypatch):
    # fp16 trains only on a GPU; its loss scaling (torch's GradScaler, as seqgen drives it) runs
    # here on the CPU, with the arithmetic left in fp32.
    monkeypatch.setattr(seqgen.training.step, "autocast", lambda device, precision: contextlib.nullcontext())
    torch.manual_seed(0)
    model = RNNLM(ModelConfig(vocab_size=12, hidden=8, layers=1, dropout=0.0))
    stepper = Stepper(model, CPU, "fp16", lr=1e-2)
    assert stepper.scaler.is_enabled()
    assert not Stepper(RNNLM(ModelConfig(vocab_size=12, hidden=8, layers=1)), CPU, "bf16", lr=1e-2).scaler.is_enabled()
    x, y = torch.randint(0, 12, (2, 5)), torch.randint(0, 12, (2, 5))
    scale = stepper.scaler.get_scale()
    before = [p.detach().clone() for p in model.parameters()]
    assert stepper.step(x, y, None, 1e-2)[0] is not None
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))  # unscaled, clipped, stepped
    hook = model.head.weight.register_hook(lambda g: g * float("inf"))  # an overflow, as fp16 gradients do
    before = [p.detach().clone() for p in model.parameters()]
    stepper.step(x, y, None, 1e-2)
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))  # that step is skipped
    assert stepper.scaler.get_scale() == scale / 2  # and the scale backs off
    hook.remove()


@pytest.fixture
def two_gpus(monkeypatch):
    """torchrun's environment for process 1 of 2 on one machine with two (fake) GPUs."""
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    calls = []
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(("set_device", device)))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.distributed, "init_process_group", lambda backend, timeout: calls.append(backend))
    return calls


def test_each_process_takes_its_own_gpu_and_nccl(two_gpus):
    world = World.current("cuda")
    assert world.device == torch.device("cuda", 1) and world.backend == "nccl"
    assert two_gpus == [("set_device", torch.device("cuda", 1)), "nccl"]
    assert World.current("cpu").backend == "gloo"


def test_more_processes_than_gpus_or_nccl_on_cpus_are_refused(two_gpus, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(UsageError, match="no GPU of its own"):
        World.current("cuda")
    with pytest.raises(UsageError, match="--backend nccl needs CUDA GPUs"):
        World.current("cpu", backend="nccl")


@pytest.mark.parametrize("trained_on, given, launched", [
    ("cpu", [], True),  # it goes on where it was trained: one process a core
    ("auto", [], False),  # it would take the GPU: one process at most
    ("auto", ["--device", "cpu"], True),
])
def test_a_resumed_run_gets_processes_for_the_device_it_resumes_on(monkeypatch, tmp_path, trained_on, given, launched):
    # A machine with one GPU and four cores; the message a run stopped with (seqgen train --resume
    # last.pt --nproc 2) must work there for a run trained on the CPU.
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(seqgen.training.launch.os, "cpu_count", lambda: 4)
    starts = []
    monkeypatch.setattr(seqgen.training.launch, "launch", lambda nproc, args, backend="auto": starts.append(args) or 0)
    payload = torch.load(Path(__file__).parent / "data" / "checkpoints_v2" / "char.pt", map_location="cpu",
                         weights_only=True)
    payload["train_config"]["device"] = trained_on
    torch.save(payload, tmp_path / "last.pt")
    result = run("train", "--resume", tmp_path / "last.pt", "--nproc", "2", *given)
    if launched:
        assert result.exit_code == 0, result.output
        assert [sorted(args) for args in starts] == [sorted(["--resume", str(tmp_path / "last.pt"), *given])]
    else:
        assert_one_line_error(result, 2, "--nproc 2: this machine has 1 GPU")
        assert not starts
