"""The registry that training, checkpoints, scoring, sampling and the command line find model
types in (what a model type is: ``base.py``).

The built-in types are known here by name and configuration before their modules are loaded:
the command line builds its options from the configurations at every run, even for ``--help``,
and a model's module loads torch, which takes seconds. A type's module loads when its class is
first asked for. Free of torch and numpy.
"""

from __future__ import annotations

import importlib

from ..errors import UsageError
from .ngram_config import NGramConfig
from .rnn_config import ModelConfig

# name: (module, class, the class's Config); tests check that each entry matches its class.
BUILTIN = {"rnn": ("seqgen.models.rnn", "RNNLM", ModelConfig),
           "ngram": ("seqgen.models.ngram", "KneserNeyLM", NGramConfig)}
WAYS_OF_TRAINING = ("gradient", "counting")  # the names strategies.STRATEGIES gives a strategy to
_TYPES: dict[str, type] = {}  # the classes loaded or registered so far


def register(cls: type) -> type:
    """Make ``cls`` a model type under ``cls.name`` (usable as a decorator)."""
    missing = [m for m in ("name", "Config", "trained_by", "from_state", "config_dict", "state", "describe",
                           "score", "next_scores", "for_sampling") if not hasattr(cls, m)]
    way = getattr(cls, "trained_by", None)
    if missing or not (way in WAYS_OF_TRAINING or hasattr(way, "prepare")):
        raise TypeError(f"{cls.__name__} is not a model type: missing {', '.join(missing) or 'trained_by'}")
    _TYPES[cls.name] = cls
    return cls


def model_types() -> list[str]:
    """The built-in types, then the others registered, by name."""
    return list(dict.fromkeys([*BUILTIN, *_TYPES]))


def model_class(name: str) -> type:
    """The class of model type ``name`` (a built-in's module is loaded here); UsageError listing
    the known ones."""
    if name not in _TYPES:
        if name not in BUILTIN:
            raise UsageError(f"--model must be one of {', '.join(model_types())} (got {name!r})")
        module, attribute, _ = BUILTIN[name]
        register(getattr(importlib.import_module(module), attribute))
    return _TYPES[name]


def model_config(name: str) -> type:
    """The configuration class of model type ``name``, without loading a built-in's module."""
    if name in _TYPES:
        return _TYPES[name].Config
    if name in BUILTIN:
        return BUILTIN[name][2]
    return model_class(name).Config  # raises the UsageError


def config_fields(cls: type) -> set[str]:
    from dataclasses import fields

    return {f.name for f in fields(cls.Config)} - {"vocab_size"}
