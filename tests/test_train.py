import json
import math
import os
import threading
from collections import Counter

import numpy as np
import pytest
import torch

from seqgen.training import checkpoint, runs
from seqgen.training.runs import RunLock
from seqgen.errors import CorpusError, SeqgenError, SeqgenWarning
from seqgen.models.rnn import RNNLM
from seqgen.evaluate import Score
from seqgen.training.run import new_run, resume_run
from .helpers import tiny_model, tiny_train


def unigram_loss(ids: np.ndarray) -> float:
    counts = np.array(list(Counter(ids.tolist()).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def test_short_run_learns_well_below_unigram(prose_file, tmp_path):
    result = new_run([str(prose_file)], tiny_model(hidden=128), tiny_train(max_steps=300, eval_every=100),
                   out_dir=tmp_path / "run")
    payload = checkpoint.load(result.best_path)
    baseline = unigram_loss(payload["data"]["val_ids"].numpy())
    # Unigram entropy of English characters is ~3.2 nats; a few seconds of LSTM must beat it clearly.
    assert result.best_val_loss < baseline - 0.8, (result.best_val_loss, baseline)


def test_run_folder_has_checkpoints_metrics_and_curve(char_run):
    run = char_run.run_dir
    assert {"best.pt", "last.pt", "metrics.jsonl", "loss.png"} <= {p.name for p in run.iterdir()}
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [20, 40, 60]
    assert all(math.isfinite(r["val_loss"]) and r["val_ppl"] > 1 for r in records)
    assert not list(run.glob(".*tmp*"))  # no temporary files left behind by atomic saves


def test_metrics_are_valid_json_even_for_a_loss_that_is_not_finite(tmp_path):
    runs.append_metrics(tmp_path, {"step": 3, "val_loss": float("inf"), "val_ppl": float("inf"),
                                   "train_loss": float("nan")})

    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    line = (tmp_path / "metrics.jsonl").read_text()
    assert json.loads(line, parse_constant=refuse) == {"step": 3, "val_loss": None, "val_ppl": None, "train_loss": None}
    assert runs.read_metrics(tmp_path)[0]["step"] == 3


def test_checkpoint_is_self_contained_and_safe(char_run):
    raw = torch.load(char_run.best_path, weights_only=True)  # loads without any seqgen class
    for key in ("model_state", "model_config", "vocab", "train_config", "optimizer", "progress", "rng",
                "data", "version"):
        assert key in raw
    assert raw["progress"]["best_val_loss"] == pytest.approx(char_run.best_val_loss)
    model, vocab = checkpoint.load_model(raw)
    assert model.config.vocab_size == len(vocab)


def test_resume_continues_the_same_curve(prose_file, tmp_path):
    cfg = dict(max_steps=40, eval_every=10)
    straight = new_run([str(prose_file)], tiny_model(dropout=0.1), tiny_train(**cfg), out_dir=tmp_path / "a")
    # Interrupt the second run half way (as Ctrl-C would), then resume it with the same settings.
    stop = threading.Event()
    half = new_run([str(prose_file)], tiny_model(dropout=0.1), tiny_train(**cfg), out_dir=tmp_path / "b",
                 on_event=lambda kind, info: kind == "eval" and info["step"] == 20 and stop.set(), stop=stop)
    assert half.reason == "interrupted" and half.step == 20
    resumed = resume_run(half.last_path)
    assert resumed.run_dir == half.run_dir and resumed.step == 40

    def curve(run):
        return [(r["step"], r["val_loss"], r["train_loss"]) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]

    a, b = curve(straight.run_dir), curve(half.run_dir)
    assert [s for s, *_ in b] == [10, 20, 30, 40]
    np.testing.assert_allclose(np.array(a)[:, 1:], np.array(b)[:, 1:], rtol=1e-5)


def test_time_budget_stops_and_saves(prose_file, tmp_path):
    result = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=0, time_budget=2.0, eval_every=10_000),
                   out_dir=tmp_path / "t")
    assert result.reason == "time-budget"
    assert checkpoint.load(result.last_path)["progress"]["step"] == result.step > 0


def test_plateau_halves_the_learning_rate_then_early_stopping_ends_the_run(prose_file, tmp_path, monkeypatch):
    # Validation loss that never improves after the first evaluation: at 2 validations without
    # improvement the rate is halved, at 4 (the patience) training stops.
    monkeypatch.setattr(RNNLM, "score", lambda model, ids, *args: Score(5.0 * len(ids), len(ids)))
    events = []
    result = new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=0, eval_every=5, patience=4),
                   out_dir=tmp_path / "e", on_event=lambda kind, info: events.append((kind, info)))
    assert result.reason == "early-stop" and result.step == 25  # evaluations at 5 (best), 10, 15, 20, 25
    notes = [info["message"] for kind, info in events if kind == "note"]
    assert notes == ["no improvement in 2 validations: learning rate halved"]
    lrs = [info["lr"] for kind, info in events if kind == "eval"]
    assert lrs[3] == pytest.approx(lrs[2] / 2, rel=0.05)  # the cosine decay moves it a little too
    # With a step or time limit the cosine decay alone brings the rate down: no halving.
    for limit in ({"max_steps": 500}, {"time_budget": 3600.0}):
        events.clear()
        new_run([str(prose_file)], tiny_model(), tiny_train(eval_every=5, patience=4, **{"max_steps": 0, **limit}),
              out_dir=tmp_path / str(limit), on_event=lambda kind, info: events.append((kind, info)))
        assert not [info for kind, info in events if kind == "note" and "halved" in info["message"]], limit


def test_gru_and_rnn_train_too(prose_file, tmp_path):
    for cell in ("gru", "rnn"):
        result = new_run([str(prose_file)], tiny_model(cell=cell), tiny_train(max_steps=20), out_dir=tmp_path / cell)
        assert math.isfinite(result.best_val_loss)


def test_word_level_run(word_run):
    payload = checkpoint.load(word_run.best_path)
    assert payload["vocab"]["level"] == "word" and len(payload["vocab"]["tokens"]) == 2000
    assert word_run.best_val_loss < math.log(2000)


def test_corpus_too_short_for_a_batch(tmp_path):
    small = tmp_path / "small.txt"
    small.write_text("just a few words\n" * 5)
    with pytest.raises(CorpusError, match="fewer than one batch"):
        new_run([str(small)], tiny_model(), tiny_train(), out_dir=tmp_path / "r")


def test_second_training_into_a_busy_folder_refuses(prose_file, tmp_path):
    run = tmp_path / "busy"
    with RunLock(run_dir=runs.make_dir(run)):  # another training holds the folder
        with pytest.raises(SeqgenError, match=f"another training \\(pid {os.getpid()}\\) is writing"):
            new_run([str(prose_file)], tiny_model(), tiny_train(), out_dir=run)
    assert new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=2), out_dir=run).step == 2  # released


def test_a_lock_left_by_a_dead_process_is_no_lock(prose_file, tmp_path):
    run = runs.make_dir(tmp_path / "stale")
    (run / ".lock").write_text("999999999")  # its process is gone: the kernel holds no lock
    assert new_run([str(prose_file)], tiny_model(), tiny_train(max_steps=2), out_dir=run).step == 2


def test_the_random_state_of_every_gpu_is_saved_and_restored(monkeypatch):
    from seqgen.training.snapshot import restore_rng, rng_state

    states = [torch.tensor([1, 2, 3], dtype=torch.uint8), torch.tensor([4, 5, 6], dtype=torch.uint8)]
    restored = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: states)
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", restored.append)
    saved = rng_state()
    assert saved["cuda"] is states and torch.equal(saved["torch"], torch.get_rng_state())
    restore_rng(saved)
    assert restored == [states]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # fewer GPUs now: their streams cannot be kept
    with pytest.warns(SeqgenWarning, match="saved on 2 GPU"):
        restore_rng(saved)
    assert restored == [states]
