"""A timed run's own time: where it went (the shares of the summary), evaluations along the way on
a sample of the held-out text and the last on all of it, and a schedule that ends with the budget."""


import pytest

from seqgen import api
from seqgen.config import TrainConfig
from seqgen.training.run import new_run
from seqgen.training.schedule import Progress, fraction_done, limit_reached, lr_at
from seqgen.training.timing import PARTS, describe

from .helpers import run, tiny_model, tiny_train


def test_a_timed_run_says_where_its_time_went_and_scores_all_held_out_text_last(prose_file, tmp_path):
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
    if size < len(held_out):  # the evaluations along the way read the start of it, said so once
        assert notes == [f"evaluations along the way read {size:,} of the {len(held_out):,} held-out tokens "
                         "(at most 3% of the time); the last reads them all"]
        sample = model.network.score(held_out[:size]).cross_entropy
        assert evals[-1]["val_loss"] == pytest.approx(sample, rel=1e-3)  # fp32 sums in another order: 1e-4 apart seen
    assert end["reason"] == "time-budget" and end["progress"] == pytest.approx(1.0, abs=0.05)


def test_the_summary_prints_the_shares(prose_file, in_tmp):
    result = run("train", prose_file, "--hidden", "16", "--layers", "1", "--seq-len", "16", "--batch-size", "4",
                 "--time-budget", "3s", "--out", "run")
    assert result.exit_code == 0, result.stderr
    assert "the step's own (forward and backward)" in result.stderr and "the first step took" in result.stderr
    assert "held-out loss of the last weights on all" in result.stderr


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
