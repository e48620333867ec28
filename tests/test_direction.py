"""Backward models: the same network trained on the reversed token stream, to score fills."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqgen import api
from seqgen.data.arrange import as_trained
from seqgen.data.tokens import TokenSplit
from seqgen.errors import CheckpointError, UsageError
from seqgen.training import checkpoint
from seqgen.training.run import new_run, resume_run

from .helpers import assert_one_line_error, run, tiny_model, tiny_train

OLD = Path(__file__).parent / "data" / "checkpoints_v2"


@pytest.fixture(scope="module")
def both(tmp_path_factory, prose_file):
    """A forward and a backward run of the same tiny model on the same text and seed."""
    out = tmp_path_factory.mktemp("direction")
    settings = dict(max_steps=6, eval_every=3, eval_tokens=0, precision="fp32")
    return {d: new_run([str(prose_file)], tiny_model(hidden=32), tiny_train(direction=d, **settings), out_dir=out / d)
            for d in ("forward", "backward")}


def test_a_backward_split_is_the_forward_one_reversed():
    split = TokenSplit(np.arange(10, dtype=np.uint8), np.arange(10, 14, dtype=np.uint8))
    assert as_trained(split, "forward") is split
    backward = as_trained(split, "backward")
    assert backward.train.tolist() == list(range(9, -1, -1)) and backward.val.tolist() == [13, 12, 11, 10]


def test_a_backward_run_holds_out_the_forward_text_and_is_scored_on_it_reversed(both):
    forward, backward = (api.Model.load(both[d].best_path) for d in ("forward", "backward"))
    assert (forward.direction, backward.direction) == ("forward", "backward")
    held_out = forward.data["val_ids"].numpy()
    assert np.array_equal(backward.data["val_ids"].numpy(), held_out)  # the same split, kept as read
    # Training's validation read the held-out text backward: the best loss is its score reversed.
    reversed_score = backward.network.score(held_out[::-1].copy())
    assert both["backward"].best_val_loss == pytest.approx(reversed_score.cross_entropy, rel=1e-4)
    assert backward.score().cross_entropy == pytest.approx(reversed_score.cross_entropy, rel=1e-6)
    assert backward.network.score(held_out).cross_entropy != pytest.approx(reversed_score.cross_entropy, rel=1e-4)
    text = "The quick brown fox.\n"
    ids = np.append(backward.vocab.encode(text), 1)  # as training reads a document: <eos> after it
    read_backward = backward.network.score(ids[::-1].copy())
    assert backward.score(text).cross_entropy == pytest.approx(read_backward.cross_entropy, rel=1e-6)


def test_the_direction_is_saved_and_kept_on_resume(both, tmp_path):
    assert checkpoint.load(both["backward"].last_path)["train_config"]["direction"] == "backward"
    resumed = resume_run(both["backward"].last_path, {"max_steps": 9}, out_dir=tmp_path / "more")
    assert checkpoint.load(resumed.last_path)["train_config"]["direction"] == "backward"
    with pytest.raises(UsageError, match="cannot change --direction"):
        resume_run(both["backward"].last_path, {"max_steps": 12, "direction": "forward"}, out_dir=tmp_path / "x")


def test_a_backward_model_does_not_sample_but_evaluates(both):
    path = both["backward"].best_path
    assert_one_line_error(run("sample", path, "--length", "20"), 2, "backward model", "--backward", "score fills")
    with pytest.raises(UsageError, match="backward model"):
        api.Model.load(path).generate(length=5)
    result = run("eval", path, "--json")
    assert result.exit_code == 0, result.output
    import json

    assert json.loads(result.stdout)["cross_entropy"] == pytest.approx(api.Model.load(path).score().cross_entropy)


def test_the_option_comes_from_the_configuration(prose_file, tmp_path):
    result = run("train", prose_file, "--direction", "sideways", "--max-steps", "1", "--out", tmp_path / "r")
    assert_one_line_error(result, 2, "--direction must be one of forward, backward")


@pytest.mark.parametrize("name", ["char.pt", "word.pt", "tunes.pt", "ngram.pt"])
def test_an_old_checkpoint_is_forward(name):
    model = api.Model.load(OLD / name)
    assert "direction" not in (model.payload.get("train_config") or {})
    assert model.direction == "forward"


def test_a_checkpoint_in_no_known_direction_is_refused(both, tmp_path):
    payload = checkpoint.load(both["backward"].best_path)
    payload["train_config"]["direction"] = "sideways"
    damaged = tmp_path / "damaged.pt"
    checkpoint.save(payload, damaged)
    with pytest.raises(CheckpointError, match="direction"):
        api.Model.load(damaged)
