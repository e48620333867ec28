"""``--time-budget``'s plan: the shape chosen for measured speeds, the rule it rests on, the probe and
its cache, and the plan followed by a real run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import seqgen
from seqgen.errors import UsageError
from seqgen.models.rnn import RNNLM
from seqgen.models.rnn_config import ModelConfig
from seqgen.training import plan_probe
from seqgen.training.checkpoint import load
from seqgen.training.plan import BOUNDS, choose, make_plan
from seqgen.training.plan import SHAPES as LEVEL_SHAPES
from seqgen.training.plan_rule import DEFAULT_LR, LR_TOLERANCE, RULES, Rule, effective_tokens, fit, recurrent_params

from .helpers import assert_one_line_error, run

GRID = Path(__file__).resolve().parent.parent / "benchmarks" / "plan" / "grid.jsonl"
RULE, SHAPES = RULES["char"], LEVEL_SHAPES["char"]  # most tests plan characters
VOCAB = 67
# tokens/s of each shape on a CPU of 100 GFLOP/s (6 FLOPs per parameter and token, forward and back)
SPEEDS = {shape: 100e9 / (6 * recurrent_params(*shape, VOCAB)) for shape in SHAPES}


@pytest.mark.parametrize("level", ["char", "word"])
def test_the_rule_is_the_fit_of_the_committed_runs(level):
    # RULES's curves come from scripts/fit_plan.py on the runs in the repo, not from a guess.
    records = [json.loads(line) for line in GRID.read_text(encoding="utf-8").splitlines() if line.strip()]
    fitted, rule = fit(records, level), RULES[level]
    assert fitted.beta == rule.beta
    assert fitted.curves.keys() == rule.curves.keys() and len(rule.curves) >= 3
    for name, rates in rule.curves.items():
        assert fitted.curves[name].keys() == rates.keys()
        for lr, curve in rates.items():
            assert fitted.curves[name][lr] == pytest.approx(curve, rel=1e-3, abs=5e-5)  # printed to 4 places
    assert fitted.reach == rule.reach and fitted.peaked == rule.peaked
    assert {name: rates.keys() for name, rates in rule.reach.items()} == {
        name: rates.keys() for name, rates in rule.curves.items()}


def test_each_level_is_fitted_to_its_own_runs():
    runs = [{"corpus": corpus, "level": level, "dropout": dropout, "layers": 1, "hidden": hidden, "tokens": tokens,
             "train_tokens": 200_000, "val_loss": 5.0 + 100 / tokens ** 0.5}
            for level, corpus, dropout, hidden in (("char", "tiny-shakespeare", 0.2, 128),
                                                  ("word", "wikitext-2", 0.5, 256),
                                                  ("word", "wikitext-2", 0.2, 512),
                                                  ("word", "another text", 0.5, 384))
            for tokens in (1e5, 4e5)]
    assert fit(runs, "word").curves.keys() == {"1x256"}  # not the characters, another dropout or text
    assert fit(runs, "char").curves.keys() == {"1x128"}
    with pytest.raises(ValueError, match="word runs"):
        fit(runs[:2], "word")


def test_a_fit_recovers_known_curves():
    # A second implementation: losses made by curves of known constants are fitted back to them.
    known = Rule(beta=0.35, curves={"1x128": {DEFAULT_LR: (1.5, 40.0, 5.0)}, "2x512": {DEFAULT_LR: (1.1, 90.0, 1.0)}})
    records = [{"corpus": "tiny-shakespeare", "dropout": 0.2, "layers": layers, "hidden": hidden, "tokens": tokens,
                "train_tokens": 1_000_000, "val_loss": known.loss(layers, hidden, tokens, 1_000_000)}
               for layers, hidden in ((1, 128), (2, 512)) for tokens in (300_000, 1_000_000, 3_000_000, 9_000_000)]
    records.append({**records[0], "corpus": "another text", "val_loss": 9.0})  # not the fit's text
    fitted = fit(records)
    assert fitted.beta == known.beta
    for name, rates in known.curves.items():
        assert fitted.curves[name].keys() == {DEFAULT_LR}
        assert fitted.curves[name][DEFAULT_LR] == pytest.approx(rates[DEFAULT_LR], rel=1e-6)


def test_each_rate_a_shape_ran_at_twice_or_more_gets_its_own_curve():
    # Hand-made runs of one shape at three rates: 1.6e-2 ran at one token count only (no curve).
    records = [{"corpus": "tiny-shakespeare", "dropout": 0.2, "layers": 1, "hidden": 256, "lr": lr, "tokens": tokens,
                "train_tokens": 1_000_000, "val_loss": 1.5 + 100 / tokens ** 0.5}
               for lr in (4e-3, None, 1.6e-2) for tokens in ((1_000_000,) if lr == 1.6e-2 else (250_000, 1_000_000))]
    assert fit(records).curves["1x256"].keys() == {4e-3, DEFAULT_LR}


def test_a_shape_trains_at_the_lowest_rate_as_good_as_the_best_for_the_runs_length():
    # Three rates of one shape: the highest learns fastest but stops gaining after 2 passes, the
    # lowest learns slowest and goes on longest; the middle one ends within LR_TOLERANCE of the
    # highest at 2 passes (so taken there: lower is safer).
    rule = Rule(beta=1.0, curves={"2x512": {3e-3: (1.30, 3.0e5, 5.0), 6e-3: (1.35, 1.2e5, 5.0),
                                            1.2e-2: (1.36, 1.0e5, 5.0)}},
                reach={"2x512": {3e-3: 9.0, 6e-3: 4.0, 1.2e-2: 2.0}})
    losses = {lr: rule.curve_loss("2x512", lr, 2e6, 1e6) for lr in (3e-3, 6e-3, 1.2e-2)}
    assert losses[1.2e-2] < losses[6e-3] <= losses[1.2e-2] + LR_TOLERANCE < losses[3e-3]
    assert rule.choice(2, 512, 2e6, 1e6) == (6e-3, losses[6e-3])
    assert rule.lr(2, 512, 0.3e6, 1e6) == 1.2e-2  # a short run: the highest, by more than the tolerance
    assert rule.lr(2, 512, 9e6, 1e6) == 3e-3  # a long one: the lowest
    assert rule.loss(2, 512, 9e6, 1e6) == rule.curve_loss("2x512", 3e-3, 9e6, 1e6)
    assert rule.lr(5, 5000, 1e6, 1e6) == DEFAULT_LR and rule.choice(5, 5000, 1e6, 1e6) is None


def test_the_committed_rule_trains_a_long_run_of_2x512_slower():
    # In the grid, 2x512 after 2 passes was 0.043 nats better at 6e-3 than at 3e-3, and after 8
    # passes 3e-3 was the better (benchmarks/plan/grid.jsonl).
    assert RULE.lr(2, 512, 2e6, 1e6) > RULE.lr(2, 512, 8e6, 1e6)


def test_the_committed_word_rule_trains_a_small_word_model_above_the_default_rate():
    # In the grid, 1x256 on WikiText-2 after 4 passes: 6.253 nats/word at 1.2e-2, 6.496 at 3e-3.
    assert RULES["word"].lr(1, 256, 819_200, 196_524) > DEFAULT_LR


def test_each_curve_falls_with_tokens_and_repeated_text_teaches_less():
    for layers, hidden in SHAPES:
        assert RULE.loss(layers, hidden, 4e6, 1e7) < RULE.loss(layers, hidden, 2e6, 1e7)
        assert RULE.loss(layers, hidden, 4e6, 1e6) > RULE.loss(layers, hidden, 4e6, 1e7)
    assert effective_tokens(5e5, 1e6, 2.0) == 5e5
    assert effective_tokens(3e6, 1e6, 2.0) < effective_tokens(3e6, 1e6, 8.0) < 3e6  # a larger R keeps more of them
    assert effective_tokens(1e9, 1e6, 2.0) == pytest.approx(3e6)  # repeats worth at most R epochs
    assert RULE.loss(5, 5000, 1e6, 1e6) is None  # never measured: no curve


def test_a_curve_expects_no_gain_past_its_best_run():
    rule = Rule(beta=0.5, curves={"2x384": {DEFAULT_LR: (1.4, 100.0, 5.0)}}, reach={"2x384": {DEFAULT_LR: 2.0}})
    assert rule.loss(2, 384, 1.5e6, 1e6) > rule.loss(2, 384, 2e6, 1e6) == rule.loss(2, 384, 9e6, 1e6)
    records = [{"corpus": "tiny-shakespeare", "dropout": 0.2, "layers": 2, "hidden": 384, "tokens": tokens,
                "train_tokens": 1_000_000, "val_loss": 1.4 + 100 / tokens ** 0.5} for tokens in (5e5, 3.3e6)]
    assert fit(records).reach == {"2x384": {DEFAULT_LR: 3.3}} and fit(records).peaked == {}  # still gaining
    assert fit(records).text_tokens == 1_000_000


def test_on_a_text_bigger_than_the_grids_a_curve_expects_no_gain_past_the_tokens_its_best_run_read():
    # Measured on a text of 1 M tokens, its best run after 2 passes: 2 M tokens read. On a text of
    # 100 M, 2 M tokens are a fiftieth of a pass, and the curve says nothing of 8 M.
    rule = Rule(beta=0.5, curves={"2x384": {DEFAULT_LR: (1.4, 100.0, 5.0)}}, reach={"2x384": {DEFAULT_LR: 2.0}},
                text_tokens=1e6)
    assert rule.loss(2, 384, 1e6, 1e8) > rule.loss(2, 384, 2e6, 1e8) == rule.loss(2, 384, 8e6, 1e8)
    assert rule.loss(2, 384, 8e6, 1e8) == 1.4 + 100 / 2e6 ** 0.5
    assert rule.loss(2, 384, 2e6, 1e6) > rule.loss(2, 384, 2e6, 1e8)  # read once each, they teach more
    # The committed rule: on a huge text, a huge budget ends every curve where its runs ended, and
    # the curve whose best run was best wins (2x512 after 8 passes at 3e-3, 1.415 nats).
    plan = choose(SPEEDS, 1000 * 3600, 500_000_000, VOCAB, "cpu fp32")
    assert (plan.layers, plan.hidden, plan.lr) == (2, 512, 3e-3)


def test_a_run_that_lost_to_a_shorter_one_ends_its_curve_there():
    # Hand-made runs of one shape: after 0.5, 1 and 2 passes the loss falls, after 4 it rose again.
    runs = {5e5: 1.60, 1e6: 1.50, 2e6: 1.45, 4e6: 1.52}
    records = [{"corpus": "tiny-shakespeare", "dropout": 0.2, "layers": 2, "hidden": 384, "tokens": tokens,
                "train_tokens": 1_000_000, "val_loss": loss} for tokens, loss in runs.items()]
    fitted = fit(records)
    assert fitted.reach == {"2x384": {DEFAULT_LR: 2.0}} and fitted.peaked == {"2x384": {DEFAULT_LR}}
    # fitted to the three runs up to the best one, as closely as to those three alone
    alone = fit(records[:3]).curves["2x384"][DEFAULT_LR]
    assert fitted.curves["2x384"][DEFAULT_LR] == pytest.approx(alone)
    assert fitted.loss(2, 384, 2e6, 1e6) == pytest.approx(1.45, abs=0.01)
    assert fitted.worth("2x384", DEFAULT_LR, 9e6, 1e6) == 2e6 and fitted.worth("2x384", 1e-3, 9e6, 1e6) == 9e6


def test_a_budget_that_buys_more_passes_than_the_best_run_ends_early(monkeypatch):
    # 2x512 was best after 3 passes at the only rate measured, and worse after more: a budget that
    # buys 12 passes trains 3, and says so.
    rule = Rule(beta=0.5, curves={"2x512": {DEFAULT_LR: (1.3, 500.0, 2.0)}}, reach={"2x512": {DEFAULT_LR: 3.0}},
                peaked={"2x512": {DEFAULT_LR}})
    monkeypatch.setitem(RULES, "char", rule)
    speeds = {(2, 512): 12e6 / (600 * 0.85)}  # 12 M tokens in ten minutes
    plan = choose(speeds, 600, 1_000_000, VOCAB, "cpu fp32")
    assert plan.epochs == pytest.approx(3.0) and plan.tokens == pytest.approx(3e6, rel=1e-6)
    assert plan.budget_s == pytest.approx(150) and plan.unspent_s == pytest.approx(450)
    assert "2.5 min" in plan.describe() and "7.5 min early" in plan.describe()
    # a budget that buys a little more than the best run (3.2 passes): within one seed's noise, all of it
    near = choose({(2, 512): 3.2e6 / (600 * 0.85)}, 600, 1_000_000, VOCAB, "cpu fp32")
    assert near.epochs == pytest.approx(3.2) and near.unspent_s == 0
    # with a rate of the user's own the rule knows nothing of when it stops gaining: all the time
    given = choose(speeds, 600, 1_000_000, VOCAB, "cpu fp32", given=frozenset({"lr"}))
    assert given.budget_s == 600 and given.unspent_s == 0 and "early" not in given.describe()


def test_the_plan_is_the_same_for_the_same_speeds():
    plans = {choose(dict(SPEEDS), 600, 1_000_000, VOCAB, "cpu fp32") for _ in range(3)}
    assert len(plans) == 1


def test_the_plan_grows_with_the_budget_and_stays_in_the_grid():
    sizes = [choose(SPEEDS, budget, 1_000_000, VOCAB, "cpu fp32").params for budget in (30, 60, 180, 600, 1800)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_a_thirty_second_budget_gets_a_small_model():
    plan = choose(SPEEDS, 30, 10_000_000, VOCAB, "cpu fp32")
    assert plan.params <= recurrent_params(2, 256, VOCAB)
    assert plan.tokens == pytest.approx(SPEEDS[(plan.layers, plan.hidden)] * 30 * 0.85, rel=1e-6)
    assert plan.epochs < 1 and plan.dropout == 0.0  # less than a pass: little to overfit


def test_a_huge_budget_on_a_big_text_gets_a_big_model():
    # the two biggest shapes' curves end within 0.02 nats of each other: either is right
    plan = choose(SPEEDS, 1000 * 3600, 500_000_000, VOCAB, "cpu fp32")
    assert (plan.layers, plan.hidden) in SHAPES[-2:] and plan.epochs > 10 and plan.dropout is None


def test_a_tiny_text_gets_a_model_it_cannot_merely_memorise():
    plan = choose(SPEEDS, 1000 * 3600, 20_000, VOCAB, "cpu fp32")  # a huge budget, 20 k tokens of text
    assert (plan.layers, plan.hidden) == SHAPES[0]
    mid = choose(SPEEDS, 1000 * 3600, 400_000, VOCAB, "cpu fp32")
    assert mid.params <= BOUNDS["char"].max_params_per_token * 400_000 < recurrent_params(*SHAPES[-1], VOCAB)
    assert mid.dropout is None  # many passes: the level's dropout stays


def test_the_plan_trains_at_its_shapes_rate_unless_one_is_given():
    plan = choose(SPEEDS, 600, 1_000_000, VOCAB, "cpu fp32")
    assert plan.lr == RULE.lr(plan.layers, plan.hidden, plan.tokens, 1_000_000) and f"lr {plan.lr:g}" in plan.describe()
    assert choose(SPEEDS, 600, 1_000_000, VOCAB, "cpu fp32", given=frozenset({"lr"})).lr is None


def test_a_given_dropout_is_kept():
    assert choose(SPEEDS, 30, 1_000_000, VOCAB, "cpu fp32", given=frozenset({"dropout"})).dropout is None


def test_a_word_model_is_planned_on_the_word_curves_and_keeps_its_dropout():
    # WikiText-2's validation text as the grid ran it: 197 k training words, 13.7 k of them distinct
    words, vocab = 196_524, 13_742
    speeds = {shape: 100e9 / (6 * recurrent_params(*shape, vocab)) for shape in LEVEL_SHAPES["word"]}
    plans = [choose(speeds, budget, words, vocab, "cpu fp32", level="word") for budget in (30, 600, 3 * 3600)]
    for plan in plans:
        assert (plan.layers, plan.hidden) in LEVEL_SHAPES["word"]
        assert plan.lr == RULES["word"].lr(plan.layers, plan.hidden, plan.tokens, words)
        assert plan.dropout is None  # the word models' 0.5 even for a short run: dropout 0 was not measured
    assert plans[0].epochs < 2 and plans[0].params <= plans[-1].params
    # Three hours buy dozens of passes, for which the plan picks 2x512; in the grid, 2x512 at every
    # rate was worse after 12.5 passes than after 4.2: it trains 4.2 and stops, saying so.
    long = plans[-1]
    name = f"{long.layers}x{long.hidden}"
    assert long.lr in RULES["word"].peaked[name]
    assert long.epochs == pytest.approx(RULES["word"].reach[name][long.lr], rel=0.01)
    assert long.unspent_s > 2 * 3600 and "early" in long.describe()


def test_the_probe_measures_once_per_machine_and_stops_where_bigger_cannot_win(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    timed = []

    def fake_step(build, device, precision, vocab_size, batch):
        model = build()
        shape = (model.config.layers, model.config.hidden)
        timed.append(shape)
        return SPEEDS[shape]

    monkeypatch.setattr(plan_probe, "time_step", fake_step)
    def build(layers, hidden):
        return RNNLM.build(ModelConfig(layers=layers, hidden=hidden), VOCAB)

    first = make_plan(60, 1_000_000, VOCAB, torch.device("cpu"), "fp32", (16, 128), build)
    assert first == choose({s: SPEEDS[s] for s in timed}, 60, 1_000_000, VOCAB, "cpu fp32", first.probe_s)
    assert timed == list(SHAPES[:len(timed)]) and len(timed) < len(SHAPES)  # the big shapes were not measured
    measured = list(timed)
    second = make_plan(60, 1_000_000, VOCAB, torch.device("cpu"), "fp32", (16, 128), build)
    assert timed == measured and second.probe_s == 0  # all from the cache
    assert (second.layers, second.hidden) == (first.layers, first.hidden)


@pytest.mark.parametrize("budget", [30, 180, 600, 7200])
def test_the_probe_skips_a_shape_that_could_not_win_even_at_the_speed_of_a_smaller_one(monkeypatch, tmp_path,
                                                                                       budget):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    timed = []

    def fake_step(build, device, precision, vocab_size, batch):
        model = build()
        timed.append((model.config.layers, model.config.hidden))
        return SPEEDS[timed[-1]]

    monkeypatch.setattr(plan_probe, "time_step", fake_step)
    plan = make_plan(budget, 1_000_000, VOCAB, torch.device("cpu"), "fp32", (16, 128),
                     lambda layers, hidden: RNNLM.build(ModelConfig(layers=layers, hidden=hidden), VOCAB))
    everything = choose(SPEEDS, budget, 1_000_000, VOCAB, "cpu fp32")
    assert (plan.layers, plan.hidden, plan.lr) == (everything.layers, everything.hidden, everything.lr)
    # 2x256 learns less from a token than 1x256 (its curve is above), and is slower: never worth its probe
    assert (2, 256) not in timed and (1, 256) in timed
    for shape in [shape for shape in SHAPES[:SHAPES.index(timed[-1])] if shape not in timed]:
        before = [s for s in timed if SHAPES.index(s) < SHAPES.index(shape)]
        tokens = min(SPEEDS[s] for s in before) * budget * 0.85  # at the speed of the biggest before it
        assert RULE.loss(*shape, tokens, 1_000_000) >= min(
            RULE.loss(*s, SPEEDS[s] * budget * 0.85, 1_000_000) for s in before)  # it still loses


def test_the_real_probe_times_a_training_step():
    fast = plan_probe.time_step(lambda: RNNLM.build(ModelConfig(layers=1, hidden=32), VOCAB), torch.device("cpu"),
                                "fp32", VOCAB, (4, 16))
    slow = plan_probe.time_step(lambda: RNNLM.build(ModelConfig(layers=1, hidden=256), VOCAB), torch.device("cpu"),
                                "fp32", VOCAB, (4, 16))
    assert fast > slow > 0


@pytest.mark.parametrize("level", ["char", "word"])
def test_a_timed_run_without_a_shape_follows_its_plan(prose_file, tmp_path, level):
    events = []
    words = {"max_vocab": 300} if level == "word" else {}
    result = seqgen.train(prose_file, time_budget="4s", seq_len=16, batch_size=8, eval_every=5, out=tmp_path / "p",
                          on_event=lambda kind, info: events.append((kind, info)), level=level, **words)
    plans = [info for kind, info in events if kind == "plan"]
    assert len(plans) == 1 and plans[0]["message"].startswith("plan: ")
    saved = load(result.last_path)
    assert (saved["model_config"]["layers"], saved["model_config"]["hidden"]) == (plans[0]["layers"],
                                                                                  plans[0]["hidden"])
    planned = plans[0]
    assert saved["train_config"]["lr"] == planned["lr"] == RULES[level].lr(
        planned["layers"], planned["hidden"], planned["tokens"], planned["tokens"] / planned["epochs"])
    assert (planned["layers"], planned["hidden"]) in LEVEL_SHAPES[level]
    assert saved["model_config"]["dropout"] == (0.0 if level == "char" else 0.5)  # seconds: far from two passes
    # the probe's seconds come off the training time
    assert saved["train_config"]["time_budget"] == pytest.approx(plans[0]["budget_s"])
    assert plans[0]["budget_s"] <= 4.0


@pytest.mark.parametrize("options", [{"hidden": 24}, {"layers": 1, "level": "word", "max_vocab": 300}])
def test_a_given_shape_is_not_planned(prose_file, tmp_path, options):
    events = []
    seqgen.train(prose_file, time_budget="2s", seq_len=16, batch_size=8, out=tmp_path / "g",
                 on_event=lambda kind, info: events.append((kind, info)), **options)
    assert not [info for kind, info in events if kind == "plan"]
    assert [kind for kind, _ in events].count("start") == 1


@pytest.mark.parametrize("level", [[], ["--level", "word", "--max-vocab", "300"]])
def test_plan_prints_the_plan_and_trains_nothing(prose_file, in_tmp, level):
    result = run("train", prose_file, "--time-budget", "10m", "--plan", "--seq-len", "16", *level)
    assert result.exit_code == 0, result.output
    # ten minutes, less what measuring the shapes took (nothing when the session has measured them)
    assert re.match(r"plan: \dx\d+ LSTM .* epochs in (9\.\d|10\.0) min on this machine", result.stdout)
    assert not (in_tmp / "checkpoints").exists()


@pytest.mark.parametrize("extra, words", [
    ([], ["--plan", "--time-budget"]),
    (["--time-budget", "1m", "--hidden", "64"], ["--plan", "--hidden", "nothing to plan"]),
])
def test_plan_refuses_what_it_cannot_plan(prose_file, in_tmp, extra, words):
    assert_one_line_error(run("train", prose_file, "--plan", *extra), 2, *words)


def test_plan_in_python_needs_a_budget(prose_file):
    with pytest.raises(UsageError, match="--time-budget"):
        seqgen.plan(prose_file)
