"""How a model type is trained is its strategy's business: a new way of training is an object on the
model type, and the run, the API and the command line follow it without knowing the type."""

import pytest
import torch

from seqgen import api
from seqgen.training import strategies
from seqgen.errors import UsageError
from seqgen.models import registry, model_class, register
from seqgen.training.step import Stepper

from .test_registry import BigramLM


class NotedCounting(strategies.Counting):
    """Counting, noting each model type it prepared a run for."""

    def __init__(self):
        self.prepared = []

    def prepare(self, cls, model_cfg, cfg, split, vocab_size, world):
        self.prepared.append(cls.name)
        return super().prepare(cls, model_cfg, cfg, split, vocab_size, world)


@pytest.fixture
def own_way(monkeypatch):
    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))  # registered for this test only
    way = NotedCounting()
    register(type("OwnWayBigram", (BigramLM,), {"name": "ownway", "trained_by": way}))
    return way


def test_a_model_type_trains_the_way_its_strategy_object_says(own_way, tmp_path, prose_file):
    result = api.train(prose_file, model="ownway", out=tmp_path / "own")
    assert own_way.prepared == ["ownway"] and result.reason == "counted" and result.best_path.exists()
    with pytest.raises(UsageError, match="--lr does not apply to --model ownway"):
        api.train(prose_file, model="ownway", lr=0.1, out=tmp_path / "other")
    with pytest.raises(UsageError, match="made by counting in one go; --resume continues runs"):
        api.train(resume=result.best_path)


def test_a_way_of_training_is_named_or_given():
    assert registry.WAYS_OF_TRAINING == tuple(strategies.STRATEGIES)
    assert isinstance(strategies.training_of(model_class("rnn")), strategies.GradientDescent)
    assert isinstance(strategies.training_of(model_class("ngram")), strategies.Counting)
    with pytest.raises(TypeError, match="not a model type"):
        register(type("Misspelt", (BigramLM,), {"name": "misspelt", "trained_by": "gradiant"}))
    assert "misspelt" not in registry.model_types()


def test_counting_refuses_several_processes_and_gradient_descent_takes_them():
    ngram = model_class("ngram")
    with pytest.raises(UsageError, match="counted in one process, in seconds: train it without --nproc"):
        strategies.training_of(ngram).check_processes(ngram, 2, "--nproc")
    strategies.training_of(ngram).check_processes(ngram, 1, "--nproc")
    rnn = model_class("rnn")
    strategies.training_of(rnn).check_processes(rnn, 8, "--nproc")


class RunningSum(torch.nn.Module):
    """A gradient-trained toy whose state is a dict: only the model knows how to cut it off."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(()))

    def loss(self, x, y, state):
        total = (state or {"sum": torch.zeros(())})["sum"] + self.weight * x.float().mean()
        return (total - y.float().mean()) ** 2, {"sum": total}

    @staticmethod
    def detach_state(state):
        return {name: value.detach() for name, value in state.items()}


def test_the_step_carries_the_state_as_the_model_detaches_it():
    stepper = Stepper(RunningSum(), torch.device("cpu"), "fp32", lr=0.01)
    x, y = torch.ones(2, 3, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)
    loss, state = stepper.step(x, y, None, lr=0.01)
    assert loss == pytest.approx(1.0) and not state["sum"].requires_grad
    # The second step back-propagates through its own batch only: an attached state would reach
    # the first batch's freed graph.
    loss, state = stepper.step(x, y, state, lr=0.01)
    assert loss is not None and set(state) == {"sum"}
