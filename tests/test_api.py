"""The Python API at its door: arguments of the wrong type or range are seqgen's own errors naming
the argument, never a TypeError from deep in torch, numpy or pathlib; the sources the command line
takes; generators that a web server drives from any thread."""

import threading

import pytest
import torch

import seqgen
from seqgen import UsageError

from .helpers import TINY


@pytest.fixture(scope="module")
def text_model(char_run):
    return seqgen.load(char_run.best_path)


@pytest.mark.parametrize("call, words", [
    (lambda m: seqgen.load(5), ["path must be a file path", "int 5"]),
    (lambda m: seqgen.load(m.path, root=None), ["root must be a file path"]),
    (lambda m: m.generate(prime=5), ["--prime must be a string", "int 5"]),
    (lambda m: m.generate(prime=b"To be"), ["--prime must be a string", "bytes"]),
    (lambda m: m.generate(prime=None), ["--prime must be a string", "None"]),
    (lambda m: m.generate(length=5.5), ["--length must be a whole number", "5.5"]),
    (lambda m: m.generate(length=True), ["--length must be a whole number"]),
    (lambda m: m.generate(temperature="hot"), ["--temperature must be a number", "'hot'"]),
    (lambda m: m.generate(top_k=2.5), ["--top-k must be a whole number or None"]),
    (lambda m: m.generate(top_p="0.5"), ["--top-p must be a number"]),
    (lambda m: m.generate(seed="1"), ["--seed must be a whole number or None", "'1'"]),
    (lambda m: m.generate(num_samples=2.0), ["--num-samples must be a whole number"]),
    (lambda m: m.generate(on_text=5), ["on_text must be a function"]),
    (lambda m: m.stream(prime=5), ["--prime must be a string"]),  # at the call, not at the first piece
    (lambda m: m.score(5), ["text must be a string"]),
    (lambda m: m.score(files=5), ["files must be a file path"]),
    (lambda m: m.score(""), ["the text to score is empty"]),
    (lambda m: m.score(files=[]), ["files is empty"]),
])
def test_wrong_arguments_are_usage_errors_naming_them(text_model, call, words):
    with pytest.raises(UsageError) as caught:
        call(text_model)
    for word in words:
        assert word in str(caught.value), str(caught.value)


@pytest.mark.parametrize("call, words", [
    (lambda m: m.tunes("2"), ["--tunes must be a whole number", "'2'"]),
    (lambda m: m.tunes(1, meter=68), ["--meter must be a string", "int 68"]),
    (lambda m: m.tunes(1, key=["G"]), ["--key must be a string"]),
    (lambda m: m.tunes(1, prime_abc=b"|abc|"), ["--prime-abc must be a string"]),
    (lambda m: m.tunes(1, max_rounds=0), ["max_rounds must be at least 1"]),
    (lambda m: m.tunes(1, on_progress="yes"), ["on_progress must be a function"]),
    (lambda m: m.tunes(1, on_tune="yes"), ["on_tune must be a function"]),
    (lambda m: m.tunes(1, on_attempt="yes"), ["on_attempt must be a function"]),
    (lambda m: m.tunes(1, stop=True), ["stop must be a threading.Event"]),
])
def test_wrong_tune_arguments_are_usage_errors_naming_them(music_run, call, words):
    with pytest.raises(UsageError) as caught:
        call(seqgen.load(music_run.best_path))
    for word in words:
        assert word in str(caught.value), str(caught.value)


@pytest.mark.parametrize("arguments, words", [
    ({"hidden": "16"}, ["--hidden must be a whole number", "'16'"]),
    ({"dropout": "0.1", "tie": "yes"}, ["--dropout must be a number", "--tie must be True or False"]),
    ({"seed": 1.5}, ["--seed must be a whole number"]),
    ({"time_budget": [5]}, ["--time-budget must be a number"]),
    ({"on_event": 5}, ["on_event must be a function"]),
    ({"stop": True}, ["stop must be a threading.Event"]),
    ({"out": 5}, ["out must be a file path"]),
    ({"encoding": None}, ["encoding must be a string"]),
    ({"model": "ngram", "order": "3"}, ["--order must be a whole number"]),
])
def test_wrong_training_arguments_are_refused_before_any_work(prose_file, in_tmp, arguments, words):
    with pytest.raises(UsageError) as caught:
        seqgen.train(prose_file, **arguments)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert not (in_tmp / "checkpoints").exists()


def test_a_wrong_option_on_resume_is_named_too(char_run, in_tmp):
    with pytest.raises(UsageError, match="--max-steps must be a whole number"):
        seqgen.train(resume=char_run.last_path, max_steps="90", out=in_tmp / "more")
    with pytest.raises(UsageError, match="--time-budget must be a number"):
        seqgen.train(resume=char_run.last_path, time_budget=[5], out=in_tmp / "more")
    with pytest.raises(UsageError, match="sources must be a file path"):
        seqgen.train(5)


def test_train_takes_a_list_of_sources_as_the_command_line_does(in_tmp, prose):
    (in_tmp / "a.txt").write_text(prose[:60_000])
    (in_tmp / "b.txt").write_text(prose[60_000:120_000])
    options = dict(zip([o.lstrip("-").replace("-", "_") for o in TINY[::2]], map(int, TINY[1::2])))
    run = seqgen.train(["a.txt", in_tmp / "b.txt"], out="run", **options)
    assert run.step == 6
    sources = seqgen.load(run.last_path).data["sources"]
    assert sources == [str(in_tmp / "a.txt"), str(in_tmp / "b.txt")]


# -- generators driven as a web server drives them --------------------------------------------------

def test_a_stream_started_in_one_thread_goes_on_in_another(text_model):
    whole = text_model.generate(prime="The", length=80, seed=3)
    pieces = text_model.stream(prime="The", length=80, seed=3)
    got = [next(pieces), next(pieces)]  # started here
    failed = []

    def go_on():
        try:
            got.extend(pieces)
        except Exception as exc:  # noqa: BLE001 - what the other thread met, to fail the test with
            failed.append(exc)

    worker = threading.Thread(target=go_on)
    worker.start()
    worker.join(60)
    assert not failed and "".join(got) == whole


def test_streams_closed_out_of_order_leave_no_setting_behind(text_model):
    before = (torch.is_inference_mode_enabled(), torch.backends.mkldnn.enabled, torch.get_num_threads())
    first, second = text_model.stream(length=50, seed=1), text_model.stream(length=50, seed=2)
    next(first), next(second)
    first.close()
    assert not torch.is_inference_mode_enabled()  # the second, still open, holds nothing of this thread's
    assert next(second)
    second.close()
    assert (torch.is_inference_mode_enabled(), torch.backends.mkldnn.enabled, torch.get_num_threads()) == before
    x = torch.ones(2, requires_grad=True)
    (x * 2).sum().backward()  # autograd still works here: training after sampling in one process
    assert x.grad is not None


def test_the_command_line_the_studio_and_eval_come_in_through_model_load(char_run, monkeypatch):
    from seqgen import api
    from seqgen.studio.catalog import Catalog

    from .helpers import run

    came_in, real_load = [], api.Model.load.__func__

    def load(cls, path=None, *args, **kwargs):
        came_in.append(str(path))
        return real_load(cls, path, *args, **kwargs)

    monkeypatch.setattr(api.Model, "load", classmethod(load))
    best = char_run.best_path
    assert run("sample", best, "--length", "5", "--seed", "1").exit_code == 0
    assert run("eval", best, "--json").exit_code == 0
    assert Catalog(best.parent).model(best).path == best
    assert seqgen.load(best).path == best
    assert came_in == [str(best)] * 4
