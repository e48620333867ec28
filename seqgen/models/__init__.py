"""The model types seqgen trains: each is one class, registered by name (``registry.py``; what a
model type is: ``base.py``). The classes load torch, so they load on first use: ``from
seqgen.models import RNNLM`` or ``model_class("rnn")``."""

from .registry import BUILTIN, config_fields, model_class, model_config, model_types, register

_CLASSES = {attribute: name for name, (_, attribute, _) in BUILTIN.items()}  # RNNLM: rnn, ...


def __getattr__(name: str):
    if name in _CLASSES:
        return model_class(_CLASSES[name])
    if name == "LanguageModel":
        from .base import LanguageModel

        return LanguageModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["LanguageModel", "KneserNeyLM", "RNNLM", "config_fields", "model_class", "model_config", "model_types",
           "register"]
