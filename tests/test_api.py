"""The Python API at its door: arguments of the wrong type or range are seqgen's own errors naming
the argument, never a TypeError from deep in torch, numpy or pathlib; the sources the command line
takes; generators that a web server drives from any thread."""

import threading
from pathlib import Path

import pytest
import torch

import seqgen
from seqgen import SeqgenError, UsageError

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
    (lambda m: m.generate_many(2.0), ["n must be a whole number", "2.0"]),
    (lambda m: m.generate_many(0), ["n must be at least 1"]),
    (lambda m: m.generate(num_samples=2), ["generate returns one sample", "generate_many(n, ...)"]),
    (lambda m: m.generate(temperature=[0.5, 1.0]), ["one sample at one temperature", "generate_many(temperature="]),
    (lambda m: m.generate_many(temperature=[]), ["--temperature is an empty list"]),
    (lambda m: m.generate_many(temperature=[0.5, "hot"]), ["--temperature must be a number", "'hot'"]),
    (lambda m: m.generate_many(temperature=[0.5, -1.0]), ["--temperature must be 0 (greedy) or positive", "-1.0"]),
    (lambda m: m.generate_many(temperature=(0.5, 0.5)), ["--temperature gives 0.5 twice"]),
    (lambda m: m.stream(temperature=[0.5, 1.0]), ["a stream is one sample", "not a list"]),
    (lambda m: m.generate_to_file(5), ["path must be a file path", "int 5"]),
    (lambda m: m.generate_to_file("never.txt", overwrite="yes"), ["overwrite must be True or False"]),
    (lambda m: m.generate_to_file("never.txt", length=0), ["--length must be at least 1"]),
    (lambda m: m.generate(on_text=5), ["on_text must be a function"]),
    (lambda m: m.stream(prime=5), ["--prime must be a string"]),  # at the call, not at the first piece
    (lambda m: m.score(5), ["text must be a string"]),
    (lambda m: m.score(files=5), ["files must be a file path"]),
    (lambda m: m.score(""), ["the text to score is empty"]),
    (lambda m: m.score(files=[]), ["files is empty"]),
])
def test_wrong_arguments_are_usage_errors_naming_them(text_model, call, words, in_tmp):
    with pytest.raises(UsageError) as caught:
        call(text_model)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert list(in_tmp.iterdir()) == []  # refused before any file was made


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
    (lambda m: m.tunes(1, temperature=[0.5, 1.0]), ["one temperature", "not a list"]),
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


def test_a_closed_stream_lets_go_of_the_settings_however_long_its_parts_live(text_model, monkeypatch):
    # A stream draws through generators within generators. Closing it must end them, and their hold
    # on the process's settings, there and then: not when the last reference to each goes (CPython
    # counts references, but a reference cycle waits for the collector, and other Pythons collect
    # later). Here something keeps a reference to each drawing a stream starts.
    from seqgen import sample

    kept = []
    real = sample.draw
    monkeypatch.setattr(sample, "draw", lambda *args, **kwargs: kept.append(real(*args, **kwargs)) or kept[-1])
    before = torch.backends.mkldnn.enabled
    first, second = text_model.stream(length=50, seed=1), text_model.stream(length=50, seed=2)
    next(first), next(second)
    first.close()
    assert next(second)
    second.close()
    assert len(kept) == 2 and torch.backends.mkldnn.enabled == before


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


# -- one return type each: generate, generate_many, generate_to_file ---------------------------------

def test_generate_is_one_str_and_generate_many_always_a_list(text_model):
    one = text_model.generate(prime="The", length=40, seed=5)
    assert isinstance(one, str) and one.startswith("The")
    assert text_model.generate_many(1, prime="The", length=40, seed=5) == [one]  # a list, even of one
    many = text_model.generate_many(3, "The", 40, seed=5)  # settings by position after n, as generate's
    assert [type(t) for t in many] == [str] * 3 and len(set(many)) == 3 and all(t.startswith("The") for t in many)
    seen = {}

    def keep(i, piece):
        seen.setdefault(i, []).append(piece)

    assert text_model.generate(prime="The", length=40, seed=5, on_text=keep) == one
    assert list(seen) == [0] and "The" + "".join(seen[0]) == one


def test_a_list_of_temperatures_gives_the_samples_at_each_from_one_seed(text_model):
    settings = dict(prime="The", length=60, seed=7)
    both = text_model.generate_many(2, temperature=[0.5, 1.5], **settings)
    assert both == (text_model.generate_many(2, temperature=0.5, **settings)
                    + text_model.generate_many(2, temperature=1.5, **settings))
    seen = {}
    text_model.generate_many(2, temperature=[0.5, 1.5], on_text=lambda i, piece: seen.setdefault(i, []).append(piece),
                             **settings)
    assert ["The" + "".join(seen[i]) for i in range(4)] == both  # each piece told with its place in the list
    # Without a seed, one is chosen for the list: temperatures that are one in float32 draw the same text.
    alike = text_model.generate_many(prime="The", length=60, temperature=[1.0, 1.0 + 1e-12])
    assert len(alike) == 2 and alike[0] == alike[1]
    assert text_model.generate(prime="The", length=60) != text_model.generate(prime="The", length=60)


def test_generate_to_file_writes_the_sample_atomically_and_refuses_to_overwrite(text_model, in_tmp, monkeypatch):
    path = text_model.generate_to_file("one.txt", prime="The", length=50, seed=2)
    assert path == Path("one.txt") and isinstance(path, Path)
    assert path.read_bytes() == (text_model.generate(prime="The", length=50, seed=2) + "\n").encode("utf-8")
    with pytest.raises(SeqgenError, match="one.txt exists; choose another path or pass overwrite=True"):
        text_model.generate_to_file("one.txt", prime="The", length=50, seed=3)
    again = text_model.generate_to_file(in_tmp / "one.txt", prime="The", length=50, seed=3, overwrite=True)
    assert again == in_tmp / "one.txt"
    replaced = path.read_text(encoding="utf-8")
    assert replaced == text_model.generate(prime="The", length=50, seed=3) + "\n"

    def broken(*args, **settings):  # a failure halfway through the drawing
        yield "The half"
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(text_model, "stream", broken)
    with pytest.raises(RuntimeError):
        text_model.generate_to_file("one.txt", prime="The", length=50, seed=4, overwrite=True)
    with pytest.raises(RuntimeError):
        text_model.generate_to_file("new.txt", prime="The", length=50, seed=4)
    assert sorted(p.name for p in in_tmp.iterdir()) == ["one.txt"] and path.read_text(encoding="utf-8") == replaced


def test_generate_to_file_lays_several_samples_out_with_their_headings(text_model, in_tmp):
    settings = dict(prime="The", length=30, seed=4)
    path = text_model.generate_to_file("many.txt", num_samples=2, temperature=[0.5, 1.5], **settings)
    cold, hot = (text_model.generate_many(2, temperature=t, **settings) for t in (0.5, 1.5))
    assert path.read_text(encoding="utf-8") == (
        f"--- temperature 0.5 ---\n=== sample 1 ===\n{cold[0]}\n\n=== sample 2 ===\n{cold[1]}\n\n"
        f"--- temperature 1.5 ---\n=== sample 1 ===\n{hot[0]}\n\n=== sample 2 ===\n{hot[1]}\n")
    with pytest.raises(SeqgenError, match="folder nowhere does not exist"):
        text_model.generate_to_file(Path("nowhere") / "x.txt", **settings)
