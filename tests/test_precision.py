"""Precision follows the hardware: what runs is tried, what is fastest is timed once per kind of
machine and cached, what cannot run is refused in one line that says what can. (The GPU's
choices: test_gpu_logic.py.)"""

import json

import pytest
import torch

import seqgen.hardware.precision
from seqgen.hardware import machine
from seqgen.hardware.device import autocast, resolve_precision
from seqgen.config import TrainConfig
from seqgen.errors import SeqgenWarning, UsageError
from seqgen.models.rnn import RNNLM
from seqgen.models.rnn_config import ModelConfig
from seqgen.hardware.precision import fastest_cpu_precision, runs_in

from .helpers import TINY, assert_one_line_error, fake_runs, needs_bf16, run

CPU = torch.device("cpu")


def test_the_probe_says_what_a_real_training_step_does():
    model = RNNLM(ModelConfig(vocab_size=30, hidden=32, layers=2, dropout=0.0))
    x, y = torch.randint(0, 30, (4, 16)), torch.randint(0, 30, (4, 16))
    for precision in ("bf16", "fp16"):
        try:
            with autocast(CPU, precision):
                loss, _ = model.loss(x, y)
            loss.backward()
            ran = True
        except RuntimeError:
            ran = False
        assert runs_in(precision, "cpu") == ran, precision
    assert runs_in("fp32", "cpu")


def test_a_precision_that_cannot_run_is_refused_with_what_can(monkeypatch):
    fake_runs(monkeypatch)
    with pytest.raises(UsageError) as e:
        resolve_precision("bf16", CPU)
    assert "bf16 cannot run on this CPU" in str(e.value) and "AVX512-BF16" in str(e.value)
    assert str(e.value).endswith("it trains in fp32 only: pass --precision fp32 or auto")
    assert resolve_precision("auto", CPU) == "fp32"


def test_train_with_bf16_where_it_cannot_run_is_one_line_and_exit_2(monkeypatch, prose_file, in_tmp):
    fake_runs(monkeypatch)
    assert_one_line_error(run("train", prose_file, *TINY, "--precision", "bf16"), 2, "--precision bf16", "fp32")
    assert not (in_tmp / "checkpoints").exists()  # refused before any work


@pytest.mark.skipif(runs_in("bf16", "cpu"), reason="this CPU runs bf16; the test above fakes one that does not")
def test_train_with_bf16_on_a_cpu_without_it_is_refused_for_real(prose_file, in_tmp):
    assert_one_line_error(run("train", prose_file, *TINY, "--precision", "bf16"), 2, "cannot run on this CPU")


@pytest.mark.parametrize("speedup, chosen", [(1.5, "bf16"), (1.05, "fp32"), (0.7, "fp32")])
def test_auto_takes_bf16_only_where_it_trains_clearly_faster(monkeypatch, tmp_path, speedup, chosen):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake_runs(monkeypatch, "bf16")
    monkeypatch.setattr(seqgen.hardware.precision, "_time_bf16_over_fp32", lambda: speedup)
    assert resolve_precision("auto", CPU) == chosen
    assert resolve_precision("bf16", CPU) == "bf16"  # asked for, it runs, even where slower


def test_the_verdict_is_timed_once_per_kind_of_machine(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    fake_runs(monkeypatch, "bf16")
    timed = []
    monkeypatch.setattr(seqgen.hardware.precision, "_time_bf16_over_fp32", lambda: timed.append(1) or 2.0)
    assert fastest_cpu_precision() == fastest_cpu_precision() == "bf16" and len(timed) == 1
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # another kind of machine: timed again
    fastest_cpu_precision()
    assert len(timed) == 2
    saved = json.loads((tmp_path / "seqgen" / "precision.json").read_text())["speedups"]
    assert len(saved) == 2 and machine.key() in saved


def test_a_damaged_cache_is_said_and_timed_again(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    fake_runs(monkeypatch, "bf16")
    monkeypatch.setattr(seqgen.hardware.precision, "_time_bf16_over_fp32", lambda: 0.5)
    (tmp_path / "seqgen").mkdir()
    (tmp_path / "seqgen" / "precision.json").write_text("{not json")
    with pytest.warns(SeqgenWarning, match="timed again"):
        assert fastest_cpu_precision() == "fp32"
    assert json.loads((tmp_path / "seqgen" / "precision.json").read_text())["rules"] == seqgen.hardware.precision.VERDICT_RULES


def test_the_verdict_times_the_default_models_width_over_the_training_window():
    assert seqgen.hardware.precision.PROBE == (ModelConfig.hidden, TrainConfig.batch_size, TrainConfig.seq_len)


@needs_bf16
def test_the_timing_itself_gives_a_positive_ratio():
    assert seqgen.hardware.precision._time_bf16_over_fp32(repeats=1) > 0
