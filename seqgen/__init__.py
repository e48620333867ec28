"""seqgen: train recurrent language models on text and folk tunes, and generate from them."""

__version__ = "0.1.0"
