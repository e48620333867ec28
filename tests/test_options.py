"""Each option is declared once, as a field of its configuration: the command line, the API's
keywords and the studio's requests are built from those fields, and each value is checked once,
by the configuration. A new sampling option is one field, and it reaches all three."""

import inspect
from dataclasses import dataclass, fields

import pytest

import seqgen.api
import seqgen.config
from seqgen import UsageError
from seqgen.config import SampleConfig, TrainConfig, TuneOptions
from seqgen.models import registry, model_class, model_types
from seqgen.models.ngram import NGramConfig
from seqgen.options import flag, not_negative, option, options

from .helpers import assert_one_line_error, run


@dataclass
class ShimmerConfig(SampleConfig):
    """SampleConfig with one more option, declared as any other: one line."""

    shimmer: float = option(0.0, "How much the text shimmers (a made-up option).", check=not_negative())


@pytest.fixture
def with_shimmer(monkeypatch):
    """The one declaration swapped in where the interfaces read SampleConfig from."""
    import seqgen.studio.requests as requests

    for module in (seqgen.config, seqgen.api, requests):
        monkeypatch.setattr(module, "SampleConfig", ShimmerConfig)


def _help(*command: str) -> str:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.translate(_BOX).split())  # rich wraps the help in a box; compare words


_BOX = str.maketrans("", "", "│╭╮╰╯─")


def _flags(help_text: str) -> set[str]:
    return {word.strip("│,") for word in help_text.split() if word.startswith("--")}


@pytest.mark.parametrize("command, classes", [
    (("sample",), [SampleConfig, TuneOptions]),
    (("eval",), [TuneOptions]),
    (("train",), [TrainConfig] + [model_class(m).Config for m in model_types()]),
])
def test_every_field_of_the_configurations_is_an_option_of_the_command(command, classes):
    shown = _flags(_help(*command))
    missing = [flag(f.name) for cls in classes for f in options(cls) if flag(f.name) not in shown]
    assert not missing, f"seqgen {command[0]} --help lacks {missing}"


def test_a_model_type_brings_its_own_options_to_train_help(monkeypatch):
    help_text = _help("train")
    assert "--order" in _flags(help_text)
    assert " ".join(fields(NGramConfig)[0].metadata["help"].split()) in help_text  # its help, from its config

    @dataclass
    class WobbleConfig:
        wobble: int = option(3, "How far the wobble model looks back.")

    class Wobble:  # registered for this test only, after the command line was imported
        name, Config, trained_by = "wobble", WobbleConfig, "counting"
        from_state = config_dict = state = describe = score = next_scores = for_sampling = None

    monkeypatch.setattr(registry, "_TYPES", dict(registry._TYPES))
    registry.register(Wobble)
    assert "--wobble" in _flags(_help("train")) and "How far the wobble model looks back." in _help("train")


def test_a_new_sampling_option_reaches_the_command_line(with_shimmer):
    help_text = _help("sample")
    assert "--shimmer" in _flags(help_text) and "How much the text shimmers" in help_text


def test_a_new_sampling_option_is_checked_by_its_declaration_on_the_command_line(with_shimmer, char_run):
    assert_one_line_error(run("sample", char_run.best_path, "--shimmer", "-1"), 2,
                          "--shimmer must not be negative (got -1.0)")
    done = run("sample", char_run.best_path, "--shimmer", "0.5", "--length", "5", "--seed", "1")
    assert done.exit_code == 0, done.output


def test_a_new_sampling_option_reaches_the_api(with_shimmer, char_run):
    model = seqgen.load(char_run.best_path)
    assert model.sample_config(shimmer=0.5).shimmer == 0.5
    with pytest.raises(UsageError, match="--shimmer must not be negative"):
        model.generate(length=5, shimmer=-1.0)
    with pytest.raises(UsageError, match="--shimmer must be a number"):
        model.stream(length=5, shimmer="much")


def test_a_new_sampling_option_reaches_the_studio_request(with_shimmer, char_run):
    from pydantic import ValidationError

    from seqgen.studio.requests import request_model

    Request = request_model("Request", [ShimmerConfig, TuneOptions], leave_out=("num_samples", "precision"),
                            checkpoint=(str, ...))
    assert Request(checkpoint="x", shimmer=0.5).shimmer == 0.5
    with pytest.raises(ValidationError, match="shimmer"):
        Request(checkpoint="x", shimmer="much")  # its type, from the field
    model = seqgen.load(char_run.best_path)
    assert Request(checkpoint="x", shimmer=0.5, seed=1).settings(model)["shimmer"] == 0.5
    with pytest.raises(UsageError, match="--shimmer must not be negative"):  # its check, from the field
        Request(checkpoint="x", shimmer=-1.0).settings(model)


def test_unknown_settings_are_usage_errors_that_suggest_the_known_one(char_run):
    model = seqgen.load(char_run.best_path)
    with pytest.raises(UsageError, match=r"unknown setting temperatur \(did you mean temperature\?\)"):
        model.generate(temperatur=0.5)
    with pytest.raises(UsageError, match="unknown setting num_samples"):
        model.stream(num_samples=2)  # a stream is one sample
    typo = run("sample", char_run.best_path, "--temperatur", "0.5")  # click's own suggestion, from the field
    assert typo.exit_code == 2 and "(Possible options: --temperature)" in typo.stderr
    assert "Traceback" not in typo.output + typo.stderr


def test_settings_by_position_follow_the_configuration(char_run):
    model = seqgen.load(char_run.best_path)
    assert model.generate("The ", 10, 0.5, None, None, 3) == model.generate(prime="The ", length=10,
                                                                          temperature=0.5, seed=3)
    with pytest.raises(UsageError, match="length is given twice"):
        model.generate("The ", 10, length=10)


def test_a_bad_value_is_named_once_with_its_option(char_run):
    result = run("sample", char_run.best_path, "--temperature", "-1", "--top-p", "2")
    assert_one_line_error(result, 2, "--temperature must be 0 (greedy) or positive", "--top-p must be in (0, 1]")
    assert result.stderr.count("--temperature") == 1


def test_a_list_valued_option_is_declared_once_for_every_interface(char_run):
    from pydantic import ValidationError

    from seqgen.studio.requests import SampleRequest

    help_text = _help("sample")
    assert "--temperature FLOAT[,FLOAT...]" in help_text  # the command line reads "0.5,0.8,1.0"
    shown = inspect.signature(seqgen.load(char_run.best_path).generate_many).parameters
    assert shown["temperature"].annotation == "float | list[float]"  # the API takes a list
    assert SampleRequest(checkpoint="x", temperature=0.5).temperature == 0.5  # the studio: one number
    with pytest.raises(ValidationError, match="temperature"):
        SampleRequest(checkpoint="x", temperature=[0.5, 1.0])
