"""Figures pinned across refactors: the same seed gives the same training losses as the code
that first produced them (fp32, so that they do not depend on a CPU's bf16 support; the tolerance
allows for the summation order of another CPU's vector width, nothing more)."""

import json

import pytest

from seqgen.training.run import new_run

from .helpers import PROSE, tiny_model, tiny_train

# (step, train loss, validation loss) of a 1x32 LSTM, dropout 0.1, 20 steps on 60k characters.
PINNED = {
    "char": [(10, 4.268419551849365, 3.5609216569876474), (20, 3.384250855445862, 3.3445572415264304)],
    "word": [(10, 6.05224289894104, 5.462842834129762), (20, 5.094654846191406, 4.924444605795185)],
}


@pytest.mark.parametrize("level", ["char", "word"])
def test_training_losses_are_those_pinned(tmp_path, level):
    corpus = tmp_path / "prose.txt"
    corpus.write_text(PROSE[:60_000])
    run = new_run([str(corpus)], tiny_model(hidden=32, dropout=0.1),
                tiny_train(level=level, max_steps=20, eval_every=10, precision="fp32", max_vocab=500),
                out_dir=tmp_path / level)
    records = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    got = [(r["step"], r["train_loss"], r["val_loss"]) for r in records]
    assert [s for s, *_ in got] == [s for s, *_ in PINNED[level]]
    assert got == [(s, pytest.approx(t, rel=1e-4), pytest.approx(v, rel=1e-4)) for s, t, v in PINNED[level]]
