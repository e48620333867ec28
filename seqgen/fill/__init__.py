"""Filling a gap in a tune or a text: a bar written ``...`` between bar lines, or ``[...]`` in text.

    gaps.py     where the gaps are, and what unit each is (a bar, a word, a line)
    draw.py     candidate fills drawn from a model, a row each, until the unit ends
    score.py    the log-probability a model gives a continuation after a context
    filling.py  candidates drawn, checked (a bar must last what the meter says), ranked

Three ways are kept side by side (``METHODS``): ``left`` draws from the text before the gap and
ranks by the fill's own probability (the baseline); ``pair`` ranks by how well the text after the
gap follows the fill, with a backward model (the same network trained on the reversed stream)
judging how well the fill leads into the text before it; ``fim`` draws from a model trained to
fill in the middle, which reads the text after the gap before it writes.
"""
