"""A timed run's own time: where it went (the shares of the summary), evaluations along the way on
a sample of the held-out text and the last on all of it, and a schedule that ends with the budget."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from seqgen import api
from seqgen.config import TrainConfig
from seqgen.training import loop
from seqgen.training.loop import spread_sample
from seqgen.training.run import new_run
from seqgen.training.schedule import Progress, fraction_done, limit_reached, lr_at
from seqgen.training.timing import PARTS, describe

from .helpers import fake_runs, run, tiny_model, tiny_train


def test_a_timed_run_says_where_its_time_went_and_scores_all_held_out_text_last(prose_file, tmp_path, monkeypatch):
    monkeypatch.setattr(loop, "SAMPLE_TOKENS", 2048)  # this held-out text is below the usual least sample
    events = []
    result = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=0, time_budget=6.0, eval_every=10, patience=0,
                                                                   eval_tokens=0),
                     out_dir=tmp_path / "run", on_event=lambda kind, info: events.append((kind, info)))
    end = next(info for kind, info in events if kind == "end")
    shares = end["time"]["shares"]
    assert set(shares) == {*PARTS, "rest"} and sum(shares.values()) == pytest.approx(1.0)
    assert shares["learn"] > 0 and end["time"]["first_step"] > 0 and result.time == end["time"]
    notes = [info["message"] for kind, info in events if kind == "note"]
    evals = [info for kind, info in events if kind == "eval"]
    model = api.load(result.last_path)
    held_out = model.data["val_ids"].numpy()
    # the last evaluation read all of the held-out text: as seqgen eval scores it, with the last weights
    assert end["val_loss_all"] == pytest.approx(model.score().cross_entropy, rel=1e-4)
    assert evals[-1]["val_loss_all"] == end["val_loss_all"] and end["val_tokens"] == len(held_out)
    size = model.payload["progress"]["eval_size"]
    if size < len(held_out):  # the evaluations along the way read a sample spread over it, said so once
        assert notes == [f"evaluations along the way read {size:,} of the {len(held_out):,} held-out tokens, "
                         "spread over them, every 10 steps; the last reads them all"]
        sample = model.network.score(spread_sample(held_out, size)).cross_entropy
        assert evals[-1]["val_loss"] == pytest.approx(sample, rel=1e-3)  # fp32 sums in another order: 1e-4 apart seen
    else:  # this machine scores all of it within the share: the note would have nothing to say
        assert notes == []
    assert end["reason"] == "time-budget" and end["progress"] == pytest.approx(1.0, abs=0.05)
    assert evals[-1]["stopped"] == "time-budget" and end["best_loss_all"] is None and "best_loss_all" not in evals[-1]


def test_a_timed_run_in_bf16_scores_all_held_out_text_last_in_fp32_as_seqgen_eval_does(prose_file, tmp_path,
                                                                                     monkeypatch):
    # The run's last figure is the one compared with other runs and with `seqgen eval`: a bf16 score
    # of the same weights differs from fp32's in the fourth digit, so it is scored in fp32.
    # A GRU: torch runs it under bf16 autocast on any CPU, if slowly where the CPU has no bf16, where
    # oneDNN's bf16 LSTM needs AVX512-BF16 or AMX.
    fake_runs(monkeypatch, "bf16")
    events = []
    cfg = tiny_train(max_steps=0, time_budget=3.0, eval_every=10, patience=0, eval_tokens=0, precision="bf16")
    result = new_run([str(prose_file)], tiny_model(cell="gru"), cfg, out_dir=tmp_path / "run",
                     on_event=lambda kind, info: events.append((kind, info)))
    end = next(info for kind, info in events if kind == "end")
    model = api.load(result.last_path)
    assert model.payload["train_config"]["precision"] == "bf16"
    assert end["val_loss_all"] == pytest.approx(model.score().cross_entropy, rel=1e-6)


def test_a_timed_run_whose_last_step_was_evaluated_still_scores_all_held_out_text_last(prose_file, tmp_path):
    # Its last step (20, --max-steps) is an evaluation's (every 10), which read all of the held-out
    # text: the run's last figure must be there all the same (a timed run ending on an evaluation
    # step, by chance, once had none).
    events = []
    result = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=20, time_budget=60.0, eval_every=10,
                                                                   patience=0, eval_tokens=0),
                     out_dir=tmp_path / "run", on_event=lambda kind, info: events.append((kind, info)))
    end = next(info for kind, info in events if kind == "end")
    assert end["reason"] == "max-steps" and end["step"] == 20
    assert end["val_loss_all"] == pytest.approx(api.load(result.last_path).score().cross_entropy, rel=1e-4)


def test_a_sample_spreads_over_the_held_out_text():
    ids = np.arange(100_000)
    sample = spread_sample(ids, 10_000)
    pieces = np.split(sample, np.flatnonzero(np.diff(sample) != 1) + 1)
    assert len(pieces) == 10_000 // loop.SAMPLE_PIECE and 10_000 - len(pieces) < len(sample) <= 10_000
    assert sample[0] == 0 and sample[-1] == len(ids) - 1  # from its start to its end
    gaps = np.diff([piece[0] for piece in pieces])
    assert gaps.max() - gaps.min() <= 1  # evenly
    assert np.array_equal(spread_sample(ids, 10_000), sample)  # the same text at every evaluation


def test_a_fast_step_spaces_the_evaluations_of_a_timed_run(prose_file, tmp_path):
    # A tiny model's step takes a millisecond or two, as a GPU's step of a real one: evaluating every
    # 100 steps would spend its time scoring and saving. Without --eval-every, the run spaces them.
    events = []
    result = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=0, time_budget=5.0, patience=0,
                                                                   eval_every=0, eval_tokens=0),
                     out_dir=tmp_path / "run", on_event=lambda kind, info: events.append((kind, info)))
    every = api.load(result.last_path).payload["progress"]["eval_every"]
    steps = [info["step"] for kind, info in events if kind == "eval"]
    assert every > loop.EVAL_EVERY and steps[0] == loop.EVAL_EVERY
    assert all(step % every == 0 for step in steps[1:-1]) and len(steps) <= loop.EVALS_PER_BUDGET + 2
    notes = [info["message"] for kind, info in events if kind == "note"]
    assert notes == [f"evaluations every {every:,} steps (spaced for the budget)"]


def test_the_summary_prints_the_shares(prose_file, in_tmp):
    result = run("train", prose_file, "--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch-size", "4",
                 "--time-budget", "3s", "--out", "run")
    assert result.exit_code == 0, result.stderr
    assert "the step's own (forward and backward)" in result.stderr and "the first step took" in result.stderr
    assert "held-out loss of the last weights on all" in result.stderr


def test_a_timed_run_that_stops_early_also_scores_best_pt_on_all_held_out_text(prose_file, in_tmp, monkeypatch):
    # Only the first evaluation improves, so the run stops early two evaluations later, past the
    # weights in best.pt: those are what sampling and `seqgen eval` take by default.
    monkeypatch.setattr(loop, "SAMPLE_TOKENS", 2048)  # below the held-out text: evaluations read a sample
    real = loop.after_evaluation
    monkeypatch.setattr(loop, "after_evaluation", lambda cfg, p, loss: real(
        cfg, p, loss if math.isinf(p.best_val_loss) else p.best_val_loss + 1.0))
    result = run("train", prose_file, "--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch-size", "4",
                 "--time-budget", "60s", "--eval-every", "5", "--patience", "2", "--out", "run")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in Path("run/metrics.jsonl").read_text().splitlines()]
    last = records[-1]
    best, final = api.load("run/best.pt"), api.load("run/last.pt")
    assert last["stopped"] == "early-stop" and best.payload["progress"]["step"] == 5 < final.payload["progress"]["step"]
    # the evaluation that stopped it says so too; those before it say nothing of stopping
    assert [r.get("stopped") for r in records] == [None] * (len(records) - 2) + ["early-stop"] * 2
    assert last["best_loss_all"] == pytest.approx(best.score().cross_entropy, rel=1e-4)  # as seqgen eval scores it
    assert last["val_loss_all"] == pytest.approx(final.score().cross_entropy, rel=1e-4)
    assert last["best_loss_all"] != last["val_loss_all"]
    assert f"held-out loss of best.pt's weights on the same tokens: {last['best_loss_all']:.4f}" in result.stderr


def test_the_schedule_ends_when_the_steps_must_end():
    cfg = TrainConfig(time_budget=100.0, warmup_steps=0, lr=1.0)
    p = Progress(step=50, elapsed=90.0)
    assert limit_reached(cfg, p, reserve=10.0) == "time-budget" and limit_reached(cfg, p, reserve=9.0) == ""
    assert fraction_done(cfg, p, 1000, reserve=10.0) == 1.0  # the last step is the schedule's end
    assert lr_at(cfg, p, 1000, reserve=10.0) == pytest.approx(0.1)  # a tenth of --lr, as the cosine ends
    assert fraction_done(cfg, p, 1000) == pytest.approx(0.9)


def test_describe_names_every_part():
    line = describe({"shares": {**dict.fromkeys(PARTS, 0.1), "rest": 0.4}, "first_step": 1.25, "seconds": 600.0})
    assert line.startswith("time (600 s): 10.0% the step's own") and "40.0% the rest" in line
    assert line.endswith("the first step took 1.25 s")
