"""The studio's ``POST /api/fill`` through FastAPI's test client, with the tiny models of the
studio's fixtures: alternatives ranked, the text outside each gap kept byte for byte, each bar
filled to the meter's length, the tunes kept with their files, and each refusal in one line."""

import re

import pytest
from fastapi.testclient import TestClient

from seqgen.config import SampleConfig
from seqgen.music.bars import parse_meter, read_bars
from seqgen.studio import streaming
from seqgen.studio.app import create_app
from seqgen.studio.jobs import Limits

from .helpers import make_soundfont
from .test_studio_api import BASE, MUSIC, TEXT, answer, post, refused

TEXT_GAPPED = "The king [...] to the court."


@pytest.fixture(scope="module")
def client(studio_root, tmp_path_factory):
    """The studio as `seqgen studio` serves it, with a (generated) soundfont."""
    font = make_soundfont(tmp_path_factory.mktemp("sound") / "sine.sf2")
    app = create_app(studio_root, soundfont=font, limits=Limits(max_length=2000, max_tunes=4))
    with TestClient(app, base_url=BASE) as c:
        yield c


def fill(client, **body):
    return client.post("/api/fill", json=body)


def bar_spans(tune: str) -> list[tuple[int, int]]:
    """(start, end) in ``tune`` of what each bar of its body holds between its bar lines, for the
    bars with notes, as the page finds them (fill.js): independent of the code under test."""
    body = re.search(r"^K:.*\n", tune, re.MULTILINE).end()
    spans, pos = [], body
    for line in tune[body:].splitlines(keepends=True):
        if not re.match(r"^[A-Za-z+]:", line):
            music = line.split("%")[0]
            cuts = [(m.start(), m.end()) for m in re.finditer(r":*\[?\|+\]?:*\d*|:{2,}|\[\d+", music)]
            edges = [0, *(c for cut in cuts for c in cut), len(music.rstrip("\n"))]
            for start, end in zip(edges[::2], edges[1::2]):
                if re.search(r"[A-Ga-gz]", re.sub(r'"[^"]*"|![^!]*!', "", music[start:end])):
                    spans.append((pos + start, pos + end))
        pos += len(line)
    return spans


@pytest.fixture(scope="module")
def tune(client) -> str:
    """A valid tune the music model drew, of at least five bars."""
    for seed in range(1, 30):
        drawn = answer(post(client, checkpoint=MUSIC, tunes=1, seed=seed))["tunes"][0]
        if drawn["valid"] and len(bar_spans(drawn["abc"])) >= 5:
            return drawn["abc"]
    raise AssertionError("no valid tune of five bars in 30 seeds")


def gapped(tune: str, *bars: int) -> str:
    """``tune`` with each of ``bars`` (0-based, among the bars with notes) written `` ... ``."""
    for start, end in sorted((bar_spans(tune)[b] for b in bars), reverse=True):
        tune = tune[:start] + " ... " + tune[end:]
    return tune


def bar_length(tune: str, bar: str):
    """What ``bar`` adds up to, and the meter's length, read under ``tune``'s header."""
    header = tune[:re.search(r"^K:.*\n", tune, re.MULTILINE).end()]
    bars, _ = read_bars(f"{header}|{bar}|\n")
    meter = parse_meter(re.search(r"^M:(.*)$", header, re.MULTILINE).group(1))
    return bars[-1].length, meter.full


# -- music ------------------------------------------------------------------------------------

def test_a_bar_of_a_tune_gets_up_to_n_ranked_alternatives_each_a_bar_of_the_meter(client, tune):
    text = gapped(tune, 2)
    before, after = text.split(" ... ")
    got = fill(client, checkpoint=MUSIC, text=text, n=3, seed=5)
    assert got.status_code == 200, got.text
    result = got.json()
    alternatives = result["alternatives"]
    assert 1 <= len(alternatives) <= 3 and result["gaps"] == 1
    assert [a["rank"] for a in alternatives] == list(range(1, len(alternatives) + 1))
    assert [a["score"] for a in alternatives] == sorted((a["score"] for a in alternatives), reverse=True)
    for alternative in alternatives:
        (filled,) = alternative["fills"]
        assert alternative["text"] == before + filled + after  # byte for byte outside the gap
        length, full = bar_length(tune, filled)
        assert length == full, (filled, length, full)
        assert alternative["abc"] == alternative["text"] and alternative["played_abc"]
    assert result["settings"]["temperature"] == SampleConfig().temperature  # the model's default, as sampling's
    assert result["command"].endswith(f"sample {client.app.state.archive.root.as_posix()}/{MUSIC} --fill - "
                                      f"--tunes 3 --seed 5 --temperature {SampleConfig().temperature:g}")


def test_each_alternative_is_a_tune_with_its_files_kept_in_the_archive(client, tune):
    result = fill(client, checkpoint=MUSIC, text=gapped(tune, 1), n=2, seed=2).json()
    for alternative in result["alternatives"]:
        assert alternative["valid"] == (alternative["verdict"] != "invalid")
        files = alternative["files"]
        abc = client.get(files["abc"])
        assert abc.status_code == 200 and abc.text.strip() == alternative["text"].strip()
        if alternative["valid"]:
            midi = client.get(files["mid"])
            assert midi.status_code == 200 and midi.content.startswith(b"MThd")
    kept = client.get(f"/api/batches/{result['batch']}").json()
    assert [t["text"] for t in kept["tunes"]] == [a["text"] for a in result["alternatives"]]


def test_several_bars_are_filled_at_once_and_the_rest_kept(client, tune):
    text = gapped(tune, 1, 3)
    pieces = text.split(" ... ")
    result = fill(client, checkpoint=MUSIC, text=text, n=2, seed=3).json()
    assert result["gaps"] == 2
    for alternative in result["alternatives"]:
        first, second = alternative["fills"]
        assert alternative["text"] == pieces[0] + first + pieces[1] + second + pieces[2]
        assert all(bar_length(tune, bar)[0] == bar_length(tune, bar)[1] for bar in (first, second))


def test_the_same_seed_fills_the_same_way(client, tune):
    text = gapped(tune, 2)
    first, again = (fill(client, checkpoint=MUSIC, text=text, n=2, seed=9).json() for _ in range(2))
    assert [a["text"] for a in first["alternatives"]] == [a["text"] for a in again["alternatives"]]
    chosen = fill(client, checkpoint=MUSIC, text=text, n=1).json()["settings"]["seed"]
    assert isinstance(chosen, int)


# -- text -------------------------------------------------------------------------------------

def test_a_span_of_text_gets_alternatives_that_keep_the_rest(client):
    result = fill(client, checkpoint=TEXT, text=TEXT_GAPPED, n=4, seed=1, temperature=0.8).json()
    alternatives = result["alternatives"]
    assert 1 <= len(alternatives) <= 4 and "tunes" not in result and "abc" not in alternatives[0]
    assert [a["score"] for a in alternatives] == sorted((a["score"] for a in alternatives), reverse=True)
    for alternative in alternatives:
        (filled,) = alternative["fills"]
        assert alternative["text"] == "The king " + filled + " to the court."
    assert result["command"].endswith("--fill - --num-samples 4 --seed 1 --temperature 0.8")


# -- refusals ---------------------------------------------------------------------------------

def test_a_text_without_a_gap_is_refused_with_how_to_mark_one(client, tune):
    refused(fill(client, checkpoint=TEXT, text="No gap here.", seed=1), 400, "[...]")
    refused(fill(client, checkpoint=MUSIC, text=tune, seed=1), 400, "...")


def test_more_than_five_alternatives_are_refused(client):
    refused(fill(client, checkpoint=TEXT, text=TEXT_GAPPED, n=6), 400, "at most 5 alternatives", "seqgen sample --fill")
    refused(fill(client, checkpoint=TEXT, text=TEXT_GAPPED, n=0), 400, "n:")
    refused(fill(client, checkpoint=TEXT, text="x" * 20_001 + "[...]"), 400, "text:")
    refused(fill(client, checkpoint=TEXT, text=TEXT_GAPPED, length=5), 400, "length:")
    refused(fill(client, checkpoint="../x.pt", text=TEXT_GAPPED), 403, "served folder")
    refused(fill(client, checkpoint=TEXT, text=TEXT_GAPPED, temperature=-1), 400, "temperature")


def test_more_than_eight_gaps_are_refused_before_anything_is_drawn(client, tune):
    refused(fill(client, checkpoint=TEXT, text="a [...] " * 9), 400, "at most 8 gaps", "(got 9)")
    refused(fill(client, checkpoint=MUSIC, text=gapped(tune, 0, 1, 2, 3, 4) + "| ... " * 4 + "|\n"), 400,
            "at most 8 gaps")


def test_a_bar_no_draw_can_fill_is_one_line_saying_what_to_try(client):
    # No bar of 12 whole notes is within the tiny model's reach: every draw fails its check.
    tune = "X:1\nM:48/4\nL:1/8\nK:G\n|GABc dBAG|\n| ... |\n|GABc dBAG|\n"
    refused(fill(client, checkpoint=MUSIC, text=tune, n=1, seed=1), 422, "no fill", "another")


def test_a_busy_model_is_refused_and_another_may_fill(client, tune, monkeypatch):
    # As in test_studio_api: a page that reads nothing holds the text model while this runs.
    monkeypatch.setattr(streaming, "PIECE_SECONDS", 0.0)
    monkeypatch.setattr(streaming, "CHUNKS_AHEAD", 1)
    with client.stream("POST", "/api/sample", json={"checkpoint": TEXT, "length": 2000, "seed": 1}) as response:
        pieces = response.iter_text()
        next(pieces)
        refused(fill(client, checkpoint=TEXT, text=TEXT_GAPPED), 429, f"{TEXT} is generating")
        assert fill(client, checkpoint=MUSIC, text=gapped(tune, 2), n=1, seed=1).status_code == 200
        "".join(pieces)
    assert fill(client, checkpoint=TEXT, text=TEXT_GAPPED, n=1).status_code == 200  # free again
