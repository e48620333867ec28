import re

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from seqgen.data.vocab import EOS, EOS_ID, UNK_ID, Vocab, join_words, split_words, text_pieces, word_pieces


def test_char_round_trip_with_unicode():
    text = "Grüße, 世界! naïve café 😀\nzweite Zeile\t🎵"
    vocab = Vocab.build([text], "char")
    ids = vocab.encode(text)
    assert ids.dtype == np.uint8  # the smallest type that holds the ids: small arrays on disk
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


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab c.\n")), max_size=200), st.integers(6, 30))
def test_long_texts_are_split_in_pieces_that_change_nothing(text, size):
    assume(all(len(word) < size for word in re.split("[ \n]", text)))  # only an endless word is cut
    pieces = list(text_pieces(text, size))
    assert "".join(pieces) == text and all(pieces)
    assert [w for words in word_pieces(text, size) for w in words] == split_words(text)


def test_one_endless_line_is_encoded_in_pieces():
    line = "word " * 2_000_000  # 10 MB without a newline
    vocab = Vocab.build([line], "word")
    ids = vocab.encode(line)
    assert len(ids) == 2_000_001 and ids[-1] == EOS_ID and vocab.id_dtype == np.uint8


def test_id_types_grow_with_the_vocabulary():
    assert Vocab(["x"] * 256, "word").id_dtype == np.uint8
    assert Vocab(["x"] * 257, "word").id_dtype == np.uint16
    assert Vocab(["x"] * 70_000, "word").id_dtype == np.int32


# Tokens as the splitter makes them from ordinary text (contractions stay inside their word).
WORDS = ["the", "cat", "It's", "3.14", "well-known", "don't", ",", ".", "!", "?", "(", ")", '"', ";", ":",
         "<unk>", EOS, "$", "%", "-", "Grüße", "世界"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_word_ids_survive_decoding_and_encoding(words):
    vocab = Vocab(["<unk>", EOS, *[w for w in WORDS if w not in ("<unk>", EOS)]], "word")
    ids = [vocab.index[w] for w in words]
    text = vocab.decode(ids)
    again = vocab.encode(text).tolist()
    if ids and ids[-1] != EOS_ID:
        again = again[:-1]  # encoding closes the last line with <eos>
    assert again == ids, text


def test_word_split_punctuation_and_eos():
    assert split_words("Hello, world!\nIt's 3.14 <unk>.") == [
        "Hello", ",", "world", "!", EOS, "It's", "3.14", "<unk>", ".", EOS]
    # WikiText's pre-tokenised forms stay whole tokens, and read naturally when joined.
    assert split_words("it 's a well @-@ known fact they do n't") == [
        "it", "'s", "a", "well", "@-@", "known", "fact", "they", "do", "n't", EOS]
    assert join_words(["it", "'s", "not", "that", "they", "do", "n't"]) == "it's not that they don't"


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
