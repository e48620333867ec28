"""What the studio says of how each tune is played, so that the page plays what the server's MIDI
and WAV files play."""

from types import SimpleNamespace

from seqgen.studio.requests import tune_entries

WELL_FORMED = "X:1\nT:Kept\nM:4/4\nL:1/8\nQ:1/4=96\nK:D\n|:DEFG ABcd|dcBA GFED|DEFG ABcd|d2A2 D4:|\n"
OPEN_ONLY = "X:2\nT:Repaired\nM:6/8\nL:1/8\nR:jig\nK:G\n|:GAB dBG|GAB d3|GAB dBG|AGF G3||\n"


def entries(*texts):
    check = SimpleNamespace(valid=True, score=object(), reasons=[])
    batch = SimpleNamespace(valid=[(t, check) for t in texts], invalid=[], first_try_valid=len(texts))
    return tune_entries(batch, "b1", sound=True)


def test_each_entry_says_how_the_tune_is_played():
    kept, repaired = entries(WELL_FORMED, OPEN_ONLY)
    assert kept["played_abc"] == kept["abc"] == WELL_FORMED and kept["repeat_notes"] == []
    assert kept["tempo"] == {"qpm": 96, "beat": "1/4", "source": "Q:"}
    assert repaired["played_abc"] == OPEN_ONLY.replace("G3||", "G3:||")
    assert repaired["repeat_notes"] == ["the |: before bar 1 was not closed before the || after bar 4: "
                                        "played twice up to there"]
    assert repaired["tempo"] == {"qpm": 174, "beat": "3/8", "source": "jig default"}
    assert set(kept) >= {"n", "title", "abc", "valid", "verdict", "reasons", "files"}  # the entry as it was, and more
