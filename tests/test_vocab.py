import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqgen.vocab import EOS, EOS_ID, UNK_ID, Vocab, join_words, split_words


def test_char_round_trip_with_unicode():
    text = "Grüße, 世界! naïve café 😀\nzweite Zeile\t🎵"
    vocab = Vocab.build([text], "char")
    ids = vocab.encode(text)
    assert ids.dtype == np.int32
    assert vocab.decode(ids) == text
    assert vocab.tokens[:2] == ["<unk>", "<eos>"]


def test_char_unknown_symbols_become_unk():
    vocab = Vocab.build(["abc"], "char")
    assert vocab.encode("abz").tolist() == [vocab.index["a"], vocab.index["b"], UNK_ID]
    assert vocab.unknown_symbols("abzy") == ["y", "z"]


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_char_round_trip_any_text(text):
    vocab = Vocab.build([text], "char")
    assert vocab.decode(vocab.encode(text)) == text


def test_word_split_punctuation_and_eos():
    assert split_words("Hello, world!\nIt's 3.14 <unk>.") == [
        "Hello", ",", "world", "!", EOS, "It's", "3.14", "<unk>", ".", EOS]


def test_word_join_is_readable():
    text = 'He said "stop" (twice), then left.\nNext line: done!'
    assert join_words(split_words(text)) == text + "\n"


def test_word_vocab_caps_and_min_count(prose):
    vocab = Vocab.build([prose], "word", max_size=500)
    assert len(vocab) == 500
    assert vocab.tokens[:2] == ["<unk>", "<eos>"]
    rare = Vocab.build(["a a a b b c"], "word", min_count=2)
    assert rare.tokens == ["<unk>", "<eos>", "a", "b"]
    ids = rare.encode("a c b")
    assert ids.tolist() == [2, UNK_ID, 3, EOS_ID]


def test_word_round_trip_of_known_text():
    text = "The cat sat on the mat.\nThe dog, too!"
    vocab = Vocab.build([text], "word")
    assert vocab.decode(vocab.encode(text)) == text + "\n"


def test_vocab_survives_storage():
    vocab = Vocab.build(["some text ünïcode"], "char")
    assert Vocab.from_dict(vocab.to_dict()) == vocab
