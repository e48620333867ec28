"""scripts/side_by_side.py and its nanoGPT arm (scripts/nanogpt_recipe.py): the nanoGPT arm is
scored on every held-out prediction once, on seqgen's own split; a shape's arm trains as the plan
would train that shape; and a benchmark stopped half-way goes on without running a run again."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqgen.training import checkpoint

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = sys.modules[name] = importlib.util.module_from_spec(spec)  # its dataclasses look it up there
    spec.loader.exec_module(module)
    return module


nanogpt = script("nanogpt_recipe")
TINY = nanogpt.Recipe(block_size=8, n_layer=1, n_head=2, n_embd=16)


@pytest.mark.parametrize("n, block, stride", [(2, 8, 2), (8, 8, 8), (9, 8, 2), (10, 8, 3), (10, 4, 2), (101, 64, 16),
                                              (1000, 64, 1), (1000, 64, 64)])
def test_the_windows_count_each_prediction_once_with_context_in_the_block(n, block, stride):
    counted, contexts = [], []
    for start, count in nanogpt.scoring_windows(n, block, stride):
        length = min(block, n - 1)
        assert 0 <= start and start + length <= n - 1  # a window reads ids before the last one only
        counted += range(start + length - count + 1, start + length + 1)  # the ids it predicts and counts
        contexts += [t - start for t in counted[len(contexts):]]
    assert sorted(counted) == list(range(1, n)) and len(counted) == n - 1  # ids[1:], each once
    first = min(block, n - 1)
    assert all(c >= min(t, block - stride + 1) for t, c in zip(counted[first:], contexts[first:]))


def test_the_score_is_every_prediction_after_as_much_as_the_block_holds():
    torch.manual_seed(0)
    model = nanogpt.GPT(TINY, vocab_size=12)
    ids = np.random.default_rng(0).integers(0, 12, 50)
    score = nanogpt.score(model, ids, block=8, stride=1, rows=7)
    assert score.tokens == len(ids) - 1  # what a seqgen model's score counts on the same ids
    expected = 0.0
    with torch.no_grad():
        for t in range(1, len(ids)):  # each one alone, after the (up to) 8 ids before it
            before = torch.from_numpy(ids[max(0, t - 8):t])[None]
            expected += float(F.cross_entropy(model(before)[0, -1:], torch.tensor([ids[t]])))
    assert score.nll == pytest.approx(expected, rel=1e-5)
    assert nanogpt.score(model, ids, block=8, stride=5).tokens == len(ids) - 1


def test_the_recipe_trains_to_its_budget_and_ends_its_decay_there_whatever_its_speed_does(monkeypatch):
    """Steps that slow down for a while, then speed up again (a CPU's first steps, another process
    beside the run for a time): training stops at the budget, less the final scoring's time, not
    before, and the rate has decayed to the recipe's floor by then."""
    forward, first_call = nanogpt.GPT.forward, []

    def slow_for_a_while(self, x):
        since = time.perf_counter() - (first_call or first_call.append(time.perf_counter()) or first_call)[0]
        if 0.2 < since < 1.2:
            time.sleep(0.02)
        return forward(self, x)

    monkeypatch.setattr(nanogpt.GPT, "forward", slow_for_a_while)
    ids = np.random.default_rng(0).integers(0, 12, 4100)
    budget = 3.0
    result = nanogpt.train(ids[:4000], ids[4000:], 12, budget, seed=0, r=TINY)
    assert result["scoring_reserve"] < 0.1 * budget
    assert result["train_seconds"] >= budget - result["scoring_reserve"]
    assert result["seconds_with_scoring"] < budget + 0.5
    first_lr, last_lr = result["first_and_last_lr"]
    assert first_lr == pytest.approx(TINY.learning_rate / (TINY.warmup_iters + 1))  # the warm-up's first
    assert result["steps"] > TINY.warmup_iters and last_lr < TINY.min_lr + 0.01 * (TINY.learning_rate - TINY.min_lr)


def test_the_split_is_the_one_seqgen_trains_and_validates_on(char_run):
    data = checkpoint.load(char_run.best_path)["data"]
    train, val, vocab_size = nanogpt.seqgen_split(data["sources"][0], data["seed"])
    assert np.array_equal(val, data["val_ids"].numpy()) and len(train) == data["train_tokens"]
    assert vocab_size == len(checkpoint.load(char_run.best_path)["vocab"]["tokens"])


@pytest.fixture
def side_by_side(monkeypatch):
    """scripts/side_by_side.py on a machine described without running anything."""
    module = script("side_by_side")
    monkeypatch.setattr(module, "machine", lambda env: {"key": "k", "isa_caps": {}, "cpu_model": "cpu",
                                                        "cpu_flags": [], "cpu_capability": "X", "threads": 1,
                                                        "torch": "t"})
    return module


def test_a_benchmark_goes_on_where_it_stopped(side_by_side, tmp_path, monkeypatch, capsys):
    text = tmp_path / "text.txt"
    text.write_text("some text\n" * 100)
    ran = []
    monkeypatch.setattr(side_by_side, "nanogpt_arm",
                        lambda *args: ran.append(("nanogpt", *args[1:3])) or {"loss": 2.0, "steps": 1, "wall_s": 1})
    monkeypatch.setattr(side_by_side, "seqgen_arm",
                        lambda arm, *args: ran.append((arm, *args[1:3])) or {"loss": 1.5, "steps": 1, "wall_s": 1})
    argv = ["side_by_side.py", str(text), "--out", str(tmp_path / "out"), "--budgets", "1m", "--seeds", "1,2"]
    monkeypatch.setattr(sys, "argv", argv)
    side_by_side.main()
    assert len(ran) == 6
    monkeypatch.setattr(sys, "argv", argv[:-1] + ["1,2,3"])
    side_by_side.main()
    assert ran[6:] == [("plan", "1m", 3), ("default", "1m", 3), ("nanogpt", "1m", 3)]  # only the new seed
    records = [json.loads(line) for line in (tmp_path / "out" / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 9 and {r["seed"] for r in records} == {1, 2, 3}
    assert "| nanogpt | 2.000 (2.000-2.000), 3 seeds |" in capsys.readouterr().out


@pytest.mark.parametrize("whole, budget, dropped", [(True, "1s", True), (False, "2m", False)])
def test_a_shape_arm_trains_its_shape_at_the_rate_and_dropout_the_plan_gives_it(prose_file, tmp_path, whole, budget,
                                                                                 dropped):
    """A shape of the plan's grid, run as the plan would run it: its own learning rate, and dropout
    0 where the budget reads the text twice or less. On the CPU, 1 s of a 1x128 LSTM is far from two
    passes over 420 k training characters, and 2 min far past two over 108 k, even on a slow one."""
    from seqgen.training.plan_rule import RULES

    from .helpers import PROSE

    text = prose_file
    if whole:
        text = tmp_path / "whole.txt"
        text.write_text(PROSE, encoding="utf-8")
    side_by_side = script("side_by_side")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the figures above are a CPU's
    options = side_by_side.options("1x128", str(text), budget, 1, env)
    # the rule gives 1x128 one rate at every length of run (its curve at 1.2e-2 is below 3e-3's)
    rates = {RULES["char"].lr(1, 128, tokens, 420_000) for tokens in (1e4, 1e6, 1e8)}
    assert len(rates) == 1 and options[:6] == ["--hidden", "128", "--layers", "1", "--lr", f"{rates.pop():g}"]
    assert options[6:] == (["--dropout", "0"] if dropped else [])
    assert side_by_side.options("default", str(text), budget, 1, {}) == ["--hidden", "512", "--layers", "2"]


def test_a_seqgen_arm_records_why_its_run_stopped_and_its_best_checkpoints_loss(side_by_side, prose_file, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setitem(side_by_side.ARMS, "tiny", ["--hidden", "16", "--layers", "1", "--seq-len", "16",
                                                    "--batch-size", "4"])
    waiting = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")  # left to seqgen, as a user leaves them
    env = {**{k: v for k, v in os.environ.items() if k not in waiting}, "CUDA_VISIBLE_DEVICES": ""}
    record = side_by_side.seqgen_arm("tiny", str(prose_file), "1s", 1, env, tmp_path)
    assert record["stopped"] == "time-budget" and record["model"]["hidden"] == 16
    assert record["omp_wait_policy"] == "GOMP_SPINCOUNT=300, KMP_BLOCKTIME=0"
    # best.pt's score, taken after the run, on the same held-out text as the run's last figure
    assert 0 < record["best_loss"] < 5 and abs(record["best_loss"] - record["loss"]) < 0.5
    assert list(tmp_path.iterdir()) == []  # the run's folder is not kept


def test_a_word_benchmark_trains_word_models_and_has_no_character_recipe(side_by_side, tmp_path, monkeypatch,
                                                                        capsys):
    text = tmp_path / "text.txt"
    text.write_text("some words here\n" * 100)
    ran = []
    monkeypatch.setattr(side_by_side, "seqgen_arm",
                        lambda arm, *args: ran.append((arm, args[-1])) or {"loss": 6.0, "steps": 1, "wall_s": 1})
    argv = ["side_by_side.py", str(text), "--out", str(tmp_path / "out"), "--budgets", "1m", "--seeds", "1"]
    for level in (["--arms", "plan"], ["--arms", "plan", "--level", "word"]):
        monkeypatch.setattr(sys, "argv", argv + level)
        side_by_side.main()
    assert ran == [("plan", "char"), ("plan", "word")]  # a character run does not stand for a word run
    assert "Held-out nats/word" in capsys.readouterr().out
    for arm in ("nanogpt", "1x128"):  # a character model; a shape the word grid never ran
        monkeypatch.setattr(sys, "argv", argv + ["--arms", arm, "--level", "word"])
        with pytest.raises(SystemExit) as stopped:
            side_by_side.main()
        assert stopped.value.code == 2 and f"has no arm {arm}" in capsys.readouterr().err
