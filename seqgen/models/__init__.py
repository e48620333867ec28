"""The model types seqgen trains: each is one class, registered here by name (see ``base.py``)."""

from .base import LanguageModel, config_fields, model_class, model_types, register
from .ngram import KneserNeyLM
from .rnn import RNNLM

register(RNNLM)
register(KneserNeyLM)

__all__ = ["LanguageModel", "KneserNeyLM", "RNNLM", "config_fields", "model_class", "model_types", "register"]
