"""The studio's JSON API through FastAPI's test client: each endpoint, the same results as the
library (and so the command line) for the same seed, and each refusal with a readable message."""

import io
import json
import os
import shutil
import socket
import wave

import pytest
from fastapi.testclient import TestClient

from seqgen import api
from seqgen.studio import streaming
from seqgen.studio.app import create_app
from seqgen.studio.jobs import Limits

from .helpers import assert_one_line_error, make_soundfont, run

BASE = "http://127.0.0.1:8000"
MUSIC, TEXT = "folk-music/best.pt", "prose-char/best.pt"


@pytest.fixture
def client(studio_root, tools, tmp_path):
    """The studio as `seqgen studio` serves it, with a (generated) soundfont and no fluidsynth."""
    tools.soundfont = make_soundfont(tmp_path / "sine.sf2")
    app = create_app(studio_root, limits=Limits(max_length=2000, max_tunes=4))
    with TestClient(app, base_url=BASE) as c:
        yield c


def post(client, headers=None, **body):
    return client.post("/api/sample", json=body, headers=headers or {})


def events(response) -> list[dict]:
    """The lines of a music answer (NDJSON), each an event."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def answer(response) -> dict:
    """A music answer as a whole: its last event, done, without the word "event"."""
    *_, last = events(response)
    assert last.pop("event") == "done", last
    return last


def refused(response, status: int, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    message = response.json()["error"]
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word in message, (word, message)


# -- each endpoint -----------------------------------------------------------------------------

def test_the_checkpoints_newest_first_with_kind_and_perplexity(client, studio_root):
    os.utime(studio_root / MUSIC, (2e9, 2e9))
    os.utime(studio_root / TEXT, (1e9, 1e9))
    data = client.get("/api/checkpoints").json()
    listed = [(c["id"], c["kind"], c["run"]) for c in data["checkpoints"]]
    assert listed == [(MUSIC, "music", "folk-music"), (TEXT, "text", "prose-char")]
    assert all(c["perplexity"] > 1 and c["description"].startswith("lstm") for c in data["checkpoints"])
    assert data["sound"] == {"available": True, "note": ""}
    assert data["limits"] == {"max_length": 2000, "max_tunes": 4, "max_fills": 5, "max_gaps": 8}


def test_a_music_checkpoint_offers_the_meters_and_keys_of_its_training_tunes(client, studio_root):
    listed = {c["id"]: c for c in client.get("/api/checkpoints").json()["checkpoints"]}
    recorded = api.load(studio_root / MUSIC).data["fields"]
    assert listed[MUSIC]["fields"] == {"meter": recorded["meter"], "key": recorded["key"], "source": "training tunes"}
    assert "fields" not in listed[TEXT]
    assert listed[MUSIC]["step"] == api.load(studio_root / MUSIC).payload["progress"]["step"] > 0


def test_the_page_gets_each_options_default_and_help_from_its_one_declaration(client):
    from dataclasses import fields

    from seqgen.config import SampleConfig, TuneOptions

    shown = client.get("/api/checkpoints").json()["options"]
    declared = {f.name: f for cls in (SampleConfig, TuneOptions) for f in fields(cls)}
    assert {"length", "temperature", "top_k", "top_p", "prime", "meter", "key", "prime_abc"} <= set(shown)
    assert shown["temperature"] == {"default": SampleConfig().temperature, "help": declared["temperature"].metadata["help"]}
    assert shown["length"]["default"] == SampleConfig().length and shown["meter"]["default"] is None
    assert "num_samples" not in shown and "precision" not in shown  # not options of the page's request


def test_a_broken_checkpoint_is_listed_with_what_is_wrong(client, studio_root):
    broken = studio_root / "broken" / "best.pt"
    broken.parent.mkdir(exist_ok=True)
    broken.write_bytes(b"not a checkpoint")
    try:
        entry = next(c for c in client.get("/api/checkpoints").json()["checkpoints"] if c["id"] == "broken/best.pt")
        assert "corrupt or truncated" in entry["error"] and "kind" not in entry
        refused(post(client, checkpoint="broken/best.pt"), 500, "corrupt or truncated")
    finally:
        broken.unlink()


def test_a_folder_name_that_is_not_utf8_is_listed_with_what_to_do(client, studio_root):
    odd = studio_root / os.fsdecode(b"run\xff") / "best.pt"
    odd.parent.mkdir()
    shutil.copy(studio_root / TEXT, odd)
    try:
        listed = client.get("/api/checkpoints")
        assert listed.status_code == 200, listed.text
        entry = next(c for c in listed.json()["checkpoints"] if c["run"] == "run\ufffd")
        assert "not UTF-8" in entry["error"] and "rename it" in entry["error"] and "kind" not in entry
        assert {c["id"] for c in listed.json()["checkpoints"]} >= {MUSIC, TEXT}  # the others as before
    finally:
        shutil.rmtree(odd.parent)


def test_listing_keeps_models_where_there_is_room_and_never_evicts_one_in_use(studio_root, tmp_path, monkeypatch):
    from seqgen.training import checkpoint
    from seqgen.studio import catalog as studio_catalog

    runs = [tmp_path / "many" / f"run{n}" / "best.pt" for n in range(studio_catalog.MODELS_KEPT + 2)]
    for n, path in enumerate(runs):  # the last is the newest
        path.parent.mkdir(parents=True)
        shutil.copy(studio_root / TEXT, path)
        os.utime(path, (1e9 + n, 1e9 + n))
    loads = []
    real_load = checkpoint.load
    monkeypatch.setattr(checkpoint, "load", lambda path: loads.append(path) or real_load(path))
    catalog = studio_catalog.Catalog(tmp_path / "many")
    in_use = catalog.model(runs[0])  # the oldest, open in the page
    assert len(catalog.listing()) == len(runs)
    loads.clear()
    assert catalog.model(runs[0]) is in_use  # describing the others did not push it out
    catalog.model(runs[-1])  # the newest, which the page selects: kept when it was described
    assert loads == []


def test_tunes_to_order_with_verdicts_and_files(client, studio_root):
    from music21 import converter, key, meter

    result = answer(post(client, checkpoint=MUSIC, tunes=2, meter="6/8", key="G", seed=3))
    assert result["settings"] == {"temperature": 0.8, "top_k": None, "top_p": 0.7, "seed": 3, "meter": "6/8",
                                  "key": "G", "prime_abc": None}
    assert result["command"].startswith(f"seqgen sample {studio_root.as_posix()}/{MUSIC} --tunes 2 --meter 6/8 --key G")
    assert "--seed 3" in result["command"]
    tunes = result["tunes"]
    assert len(tunes) == 2 and result["summary"]["requested"] == 2
    for tune in tunes:
        assert "\nM:6/8\n" in tune["abc"] and "\nK:G\n" in tune["abc"]
        assert tune["verdict"] in ("valid", "valid, re-sampled", "invalid") and tune["valid"] == (not tune["reasons"])
        assert client.get(tune["files"]["abc"]).text == tune["abc"]
    playable = next(t for t in tunes if t["files"]["mid"])
    midi = client.get(playable["files"]["mid"])
    assert midi.status_code == 200 and midi.headers["content-type"] == "audio/midi"
    score = converter.parse(midi.content, format="midi")
    assert score.recurse().getElementsByClass(meter.TimeSignature).first().ratioString == "6/8"
    assert score.recurse().getElementsByClass(key.KeySignature).first().sharps == 1
    sound = client.get(playable["files"]["wav"])
    with wave.open(io.BytesIO(sound.content)) as w:
        assert sound.headers["content-type"] == "audio/wav" and w.getnframes() / w.getframerate() > 1


def test_tunes_stream_as_progress_then_each_tune_then_the_whole_answer(client, studio_root):
    result = events(post(client, checkpoint=MUSIC, tunes=3, seed=4))
    done = result[-1]
    assert done["event"] == "done" and set(done) == {"event", "kind", "checkpoint", "settings", "command", "summary",
                                                     "tunes", "batch", "link", "created", "starred", "complete"}
    shown, drawing = [], []
    for e in result[:-1]:
        if e["event"] == "progress":
            assert e["of"] == 3 and e["tune"] == len(shown) + 1  # the first tune not shown yet
            drawing.append((e["attempt"], e["tune"]))
        else:
            assert e["event"] == "tune", e
            shown.append(e["tune"])
    assert drawing[0] == (1, 1) and result[0]["event"] == "progress"  # work shows before any tune ends
    assert drawing == sorted(drawing)  # attempts and tunes only go forward
    assert shown == done["tunes"]  # one event per tune, each as the whole answer has it
    library = api.load(studio_root / MUSIC).tunes(3, seed=4)
    assert [t["abc"] for t in shown] == [text for text, _ in library.valid + library.invalid]
    assert done["summary"]["attempts"] == library.attempts
    assert (max(attempt for attempt, _ in drawing) > 1) == (library.resampled > 0)  # re-drawn tunes are said so


def test_each_tunes_file_is_there_when_the_page_hears_of_it(client):
    with client.stream("POST", "/api/sample", json={"checkpoint": MUSIC, "tunes": 3, "seed": 4}) as response:
        for line in response.iter_lines():
            e = json.loads(line)
            if e["event"] == "tune":
                assert client.get(e["tune"]["files"]["abc"]).text == e["tune"]["abc"]


def test_a_failure_while_drawing_is_the_streams_last_line(client, monkeypatch):
    from seqgen.music import validate

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("seqgen.music.tunes.check_tune", broken)
    result = events(post(client, checkpoint=MUSIC, tunes=1, seed=1))
    assert result[0]["event"] == "progress"
    assert result[-1] == {"event": "error", "error": "the server failed (RuntimeError); see its terminal"}
    assert validate.check_tune is not broken


def test_the_same_seed_gives_the_tunes_the_library_and_command_line_give(client, studio_root):
    result = answer(post(client, checkpoint=MUSIC, tunes=2, meter="3/4", seed=11, temperature=0.9, top_k=30))
    batch = api.load(studio_root / MUSIC).tunes(2, meter="3/4", seed=11, temperature=0.9, top_k=30)
    assert [t["abc"] for t in result["tunes"]] == [text for text, _ in batch.valid + batch.invalid]


def test_text_streams_as_the_library_and_command_line_write_it(client, studio_root):
    with client.stream("POST", "/api/sample", json={"checkpoint": TEXT, "prime": "The ", "length": 300,
                                                    "seed": 5}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        meta = json.loads(response.headers["x-seqgen-sample"])
        text = "".join(response.iter_text())
    assert meta["settings"]["seed"] == 5 and meta["command"].endswith("--seed 5")
    assert text == "".join(api.load(studio_root / TEXT).stream(prime="The ", length=300, seed=5))
    cli = run("sample", studio_root / TEXT, "--prime", "The ", "--length", "300", "--seed", "5")
    assert cli.stdout == text + "\n"


def test_without_a_seed_one_is_chosen_and_shown(client):
    first = post(client, checkpoint=TEXT, length=50)
    seed = json.loads(first.headers["x-seqgen-sample"])["settings"]["seed"]
    again = post(client, checkpoint=TEXT, length=50, seed=seed)
    assert isinstance(seed, int) and again.text == first.text


def test_one_generation_at_a_time_per_model(client, monkeypatch):
    # A page that reads nothing holds its model only once the drawing is far enough ahead: each
    # character is its own piece, at most one waits, so no machine draws the sample out before the
    # second request is made (a fast one drew all 2,000 characters ahead and let the model go).
    monkeypatch.setattr(streaming, "PIECE_SECONDS", 0.0)
    monkeypatch.setattr(streaming, "CHUNKS_AHEAD", 1)
    with client.stream("POST", "/api/sample", json={"checkpoint": TEXT, "length": 2000, "seed": 1}) as response:
        pieces = response.iter_text()
        next(pieces)
        refused(post(client, checkpoint=TEXT, length=10), 429, f"{TEXT} is generating")
        assert post(client, checkpoint=MUSIC, tunes=1, seed=1).status_code == 200  # another model may
        "".join(pieces)
    assert post(client, checkpoint=TEXT, length=10).status_code == 200  # free again (stopping: see the browser test)


def test_the_page_and_abcjs_are_served_from_here(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/vendor/abcjs/abcjs-basic-min.js" in page.text
    script = client.get("/static/studio.js")
    abcjs = client.get("/static/vendor/abcjs/abcjs-basic-min.js")
    assert abcjs.status_code == 200 and "renderAbc" in abcjs.text
    assert client.get("/static/vendor/abcjs/LICENSE.md").status_code == 200
    assert "/static/player.js" in page.text and "/static/menus.js" in page.text
    player = client.get("/static/player.js")
    assert player.status_code == 200 and 'soundFontUrl: SOUNDFONT' in player.text and 'SOUNDFONT = "/soundfont/"' in player.text
    for text in (page.text, script.text, player.text, client.get("/static/menus.js").text,
                 client.get("/static/studio.css").text):
        assert "https://" not in text and "//cdn" not in text  # works with no internet


# -- the notes of the page's player ------------------------------------------------------------

def pitch(wav_bytes: bytes) -> float:
    """The strongest frequency of a WAV file's first second, in Hz (to a tenth of a semitone)."""
    import numpy as np

    with wave.open(io.BytesIO(wav_bytes)) as w:
        rate, samples = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    window = samples[:rate].astype(float)
    spectrum = np.abs(np.fft.rfft(window, 8 * len(window)))  # zero-padded: bins of 1/8 Hz
    return float(np.argmax(spectrum)) * rate / (8 * len(window))


# abcjs's names of MIDI keys (its table: C4 is 60, flats only) and their equal-tempered pitch.
@pytest.mark.parametrize("note, hz", [("A4", 440.0), ("E5", 659.26), ("Bb3", 233.08), ("C4", 261.63),
                                      ("Gb2", 92.50), ("Db6", 1108.73)])
def test_the_page_gets_each_note_abcjs_asks_for_as_audio_at_its_pitch(client, note, hz):
    answer = client.get(f"/soundfont/acoustic_grand_piano-mp3/{note}.mp3")  # abcjs's name; the bytes are WAV
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    assert pitch(answer.content) == pytest.approx(hz, rel=0.003)  # within a twentieth of a semitone
    with wave.open(io.BytesIO(answer.content)) as w:
        assert w.getnframes() / w.getframerate() >= 4  # long enough for a tune's longest note


def test_a_note_is_made_once_then_served_from_memory(client, monkeypatch):
    from seqgen.music import synth

    made = []
    real = synth.play_note
    monkeypatch.setattr(synth, "play_note", lambda *args, **kw: made.append(args[2]) or real(*args, **kw))
    first = client.get("/soundfont/violin-mp3/Eb5.mp3").content
    assert client.get("/soundfont/violin-mp3/Eb5.mp3").content == first and made == [75]  # Eb5: MIDI key 75


def test_abcjs_instrument_names_are_general_midi_programs():
    import re
    from pathlib import Path

    from seqgen.studio import soundfont

    vendored = (Path(soundfont.__file__).parent / "static/vendor/abcjs/abcjs-basic-min.js").read_text()
    listed = re.search(r'\["acoustic_grand_piano"[^\]]*\]', vendored).group(0)
    assert tuple(re.findall(r'"(\w+)"', listed)) == soundfont.INSTRUMENTS  # the names abcjs asks for
    # General MIDI's numbering, counted from 0: piano, violin, flute, bagpipe, fiddle; the drums are bank 128
    names = ("acoustic_grand_piano", "violin", "flute", "bagpipe", "fiddle", "percussion")
    assert [soundfont.preset_of(n) for n in names] == [(0, 0), (0, 40), (0, 73), (0, 109), (0, 110), (128, 0)]


def test_a_note_the_soundfont_cannot_play_is_silence_not_a_failure(client):
    answer = client.get("/soundfont/percussion-mp3/B1.mp3")  # a bass drum; the sine soundfont has no drum kit
    assert answer.status_code == 200 and answer.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(answer.content)) as w:
        assert w.getnframes() > 0 and set(w.readframes(w.getnframes())) == {0}  # abcjs plays the rest of the tune


def test_the_drums_play_from_the_soundfonts_drum_kit(studio_root, tmp_path):
    kit = make_soundfont(tmp_path / "kit.sf2", bank=128)  # a "drum" at every key: the sine, pitched
    with TestClient(create_app(studio_root, soundfont=kit), base_url=BASE) as c:
        assert pitch(c.get("/soundfont/percussion-mp3/A3.mp3").content) == pytest.approx(220.0, rel=0.003)


@pytest.mark.parametrize("path, words", [
    ("/soundfont/kazoo-mp3/A4.mp3", ["no General MIDI instrument 'kazoo'", "acoustic_grand_piano"]),
    ("/soundfont/violin-mp3/H4.mp3", ["no note 'H4'", "e.g. Bb4"]),
    ("/soundfont/violin-mp3/C%234.mp3", ["no note 'C#4'"]),
    ("/soundfont/violin-mp3/A10.mp3", ["no note 'A10'"]),
    ("/soundfont/violin-mp3/A9.mp3", ["no note 'A9'", "above G9"]),
    ("/soundfont/violin-mp3/A4.ogg", ["no such page or file here"]),
])
def test_a_note_not_in_abcjs_names_is_a_readable_404(client, path, words):
    refused(client.get(path), 404, *words)


# -- refusals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, status, words", [
    ("nothing/best.pt", 404, ["no checkpoint 'nothing/best.pt'"]),
    ("../../etc/passwd", 403, ["only checkpoints under the served folder"]),
    ("prose-char/../../../etc/passwd", 403, ["only checkpoints under the served folder"]),
    ("/etc/passwd", 403, ["no absolute paths"]),
    ("C:/Windows/win.ini", 403, ["no absolute paths"]),
    ("prose-char\\best.pt", 403, ["by its path under the served folder"]),
    ("", 403, ["by its path under the served folder"]),
])
def test_only_checkpoints_under_the_folder_can_be_named(client, name, status, words):
    refused(post(client, checkpoint=name), status, *words)


def test_a_link_out_of_the_folder_is_refused(client, studio_root, tmp_path):
    outside = tmp_path / "outside.pt"
    outside.write_bytes(b"x")
    link = studio_root / "linked.pt"
    link.symlink_to(outside)
    try:
        refused(post(client, checkpoint="linked.pt"), 403, "leads outside the served folder")
        assert "linked.pt" not in [c["id"] for c in client.get("/api/checkpoints").json()["checkpoints"]]
    finally:
        link.unlink()


@pytest.mark.parametrize("body, words", [
    ({"checkpoint": TEXT, "temperature": -1}, ["--temperature must be 0 (greedy) or positive"]),
    ({"checkpoint": TEXT, "top_p": 1.5}, ["--top-p must be in (0, 1]"]),
    ({"checkpoint": TEXT, "temperature": "hot"}, ["temperature: Input should be a valid number"]),
    ({"checkpoint": TEXT, "seed": -3}, ["--seed must be a whole number from 0 to 2**63 - 1"]),  # as the command line says
    ({"checkpoint": TEXT, "colour": "red"}, ["colour: Extra inputs are not permitted"]),
    ({"checkpoint": TEXT, "meter": "6/8"}, ["meter does not apply to a text model"]),
    ({"checkpoint": MUSIC, "prime": "X:1"}, ["prime does not apply to a music model's tunes"]),
    ({"checkpoint": MUSIC, "meter": "banana"}, ["--meter 'banana' is not a meter music21 reads"]),
    ({"checkpoint": MUSIC, "prime_abc": "d2B AFD|EFG A2|B2A", "meter": "6/8"}, ["bar 2 lasts 2.5 quarter notes"]),
    ({"checkpoint": MUSIC, "tunes": 0}, ["tunes: Input should be greater than or equal to 1"]),
    ({}, ["checkpoint: Field required"]),
])
def test_every_option_is_checked_as_on_the_command_line(client, body, words):
    refused(client.post("/api/sample", json=body), 400, *words)


def test_a_body_that_is_not_json_is_refused(client):
    refused(client.post("/api/sample", content=b"checkpoint=x", headers={"Content-Type": "text/plain"}), 400)


@pytest.mark.parametrize("body, words", [
    ({"checkpoint": MUSIC, "tunes": 5}, ["at most 4 tunes at a time here (got 5)"]),
    ({"checkpoint": TEXT, "length": 2001}, ["length is at most 2,000 here (got 2,001)"]),
])
def test_requests_over_the_limits_are_refused(client, body, words):
    refused(client.post("/api/sample", json=body), 400, *words)


@pytest.mark.parametrize("headers, words", [
    ({"Origin": "http://evil.example"}, ["requests from http://evil.example are refused"]),
    ({"Origin": "http://127.0.0.1:9999"}, ["refused"]),  # another server on this machine
    ({"Origin": "null"}, ["refused"]),
    ({"Host": "evil.example"}, ["answers requests to 127.0.0.1, ::1, localhost only, not 'evil.example'"]),
    ({"Host": "rebind.example:8000"}, ["not 'rebind.example:8000'"]),
    ({"Sec-Fetch-Site": "cross-site"}, ["another site"]),
])
def test_requests_from_elsewhere_are_refused(client, headers, words):
    refused(post(client, headers, checkpoint=TEXT, length=5), 403, *words)
    refused(client.get("/api/checkpoints", headers=headers), 403)
    assert client.get("/", headers=headers).status_code == (200 if "Sec-Fetch-Site" in headers else 403)


def test_the_page_itself_may_call_the_api(client):
    assert post(client, {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}, checkpoint=TEXT, length=5).status_code == 200
    assert client.get("/api/checkpoints", headers={"Host": "localhost:8000"}).status_code == 200


@pytest.mark.parametrize("path, words", [
    ("/api/files/0123456789abcdef/001.abc", ["sample tunes first"]),
    ("/api/files/nothing/001.mid", ["sample tunes first"]),
    ("/api/files/x/001.exe", ["sample tunes first"]),
    ("/api/files/0123456789abcdef/..%2F..%2Fsecret", ["no such page or file here"]),
    ("/static/../seqgen/errors.py", ["no such page or file here"]),
])
def test_only_files_this_server_made_are_served(client, path, words):
    refused(client.get(path), 404, *words)


def test_a_failure_is_a_readable_message_not_a_stack_trace(studio_root, tools, tmp_path, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(api.Model, "tunes", broken)
    with TestClient(create_app(studio_root), base_url=BASE, raise_server_exceptions=False) as c:
        refused(post(c, checkpoint=MUSIC, tunes=1), 500, "the server failed (RuntimeError)")


def test_without_a_soundfont_the_page_is_told_what_to_install(studio_root, tools):
    with TestClient(create_app(studio_root), base_url=BASE) as c:
        sound = c.get("/api/checkpoints").json()["sound"]
        assert sound["available"] is False and "apt-get install fluid-soundfont-gm" in sound["note"]
        tune = answer(post(c, checkpoint=MUSIC, tunes=1, seed=1))["tunes"][0]
        assert tune["files"]["wav"] is None
        refused(c.get("/soundfont/acoustic_grand_piano-mp3/A4.mp3"), 404, "apt-get install fluid-soundfont-gm",
                "--soundfont FILE")


# -- the command ------------------------------------------------------------------------------

def test_the_command_refuses_what_it_cannot_serve(in_tmp, studio_root):
    assert_one_line_error(run("studio", "nowhere", "--no-browser"), 1, "no folder nowhere/", "seqgen train")
    assert_one_line_error(run("studio", studio_root, "--no-browser", "--soundfont", "none.sf2"), 2, "--soundfont")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert_one_line_error(run("studio", studio_root, "--no-browser", "--port", port), 1,
                              f"cannot listen on 127.0.0.1:{port}", "--port")


@pytest.mark.parametrize("host", ["8.8.8.8", "2001:db8::1"])
def test_an_address_not_of_this_machine_blames_the_host_not_the_port(in_tmp, host):
    (in_tmp / "runs").mkdir()
    result = run("studio", in_tmp / "runs", "--no-browser", "--host", host, "--port", "0")
    assert_one_line_error(result, 1, f"--host {host}", "127.0.0.1")
    assert "--port" not in result.stderr


@pytest.mark.parametrize("bound, host, ok", [
    ("127.0.0.1", "127.0.0.1:8000", True), ("127.0.0.1", "[::1]:8000", True), ("127.0.0.1", "LOCALHOST", True),
    ("127.0.0.1", "192.168.1.5:8000", False), ("192.168.1.5", "192.168.1.5:8000", True),
    ("0.0.0.0", "192.168.1.5:8000", True), ("0.0.0.0", "evil.example:8000", False), ("::", "[fe80::1]:80", True),
])
def test_a_server_answers_to_its_own_addresses_and_never_to_a_name_of_elsewhere(bound, host, ok):
    from seqgen.studio.security import Forbidden, allowed_hosts, check_request

    if ok:
        check_request({"host": host, "origin": f"http://{host}"}, allowed_hosts(bound), api=True)
    else:
        with pytest.raises(Forbidden):
            check_request({"host": host}, allowed_hosts(bound), api=True)


def test_a_root_folder_whose_name_is_not_utf8_answers_in_utf8(studio_root, tmp_path, tools):
    root = tmp_path / os.fsdecode(b"runs\xff")
    shutil.copytree(studio_root, root)
    (root / "broken").mkdir(exist_ok=True)  # an earlier test may have left the folder in studio_root
    (root / "broken" / "best.pt").write_bytes(b"not a checkpoint")
    with TestClient(create_app(root), base_url="http://127.0.0.1:8000") as client:
        listed = client.get("/api/checkpoints")
        assert listed.status_code == 200, listed.text
        listed.content.decode("utf-8")  # strict: every byte UTF-8
        assert listed.json()["root"].endswith("runs\\xff")
        refused = client.post("/api/sample", json={"checkpoint": "broken/best.pt"})
        assert refused.status_code == 500 and "runs\\xff/broken/best.pt" in refused.json()["error"]


# -- the archive ------------------------------------------------------------------------------

@pytest.fixture
def own_root(studio_root, tmp_path):
    """A served folder of this test's own (the checkpoints copied), so that its archive holds
    only what the test made."""
    root = tmp_path / "runs"
    for name in (MUSIC, TEXT):
        (root / name).parent.mkdir(parents=True)
        shutil.copy(studio_root / name, root / name)
    return root


@pytest.fixture
def archived(own_root, tools):
    with TestClient(create_app(own_root, limits=Limits(max_tunes=4)), base_url=BASE) as c:
        yield c


def test_every_batch_is_kept_with_its_files_and_its_answer(archived, own_root):
    from datetime import date

    first = answer(post(archived, checkpoint=MUSIC, tunes=2, meter="6/8", seed=7))
    again = answer(post(archived, checkpoint=MUSIC, tunes=1, seed=7))
    today = date.today().isoformat()
    assert (first["batch"], again["batch"]) == (f"{today}-7", f"{today}-7-2")  # the name taken: a suffix
    assert first["link"] == f"/?batch={today}-7" and first["complete"] and not first["starred"]
    folder = own_root / "studio-archive" / first["batch"]
    names = sorted(p.name for p in folder.iterdir())
    stems = [t["files"]["abc"].rsplit("/", 1)[1][:-4] for t in first["tunes"]]
    assert stems == [f"{t['n']:03d}{'' if t['valid'] else '-invalid'}" for t in first["tunes"]]
    assert {f"{s}.abc" for s in stems} | {"batch.json"} <= set(names)
    assert json.loads((folder / "batch.json").read_text()) == first
    assert archived.get(f"/api/batches/{first['batch']}").json() == first  # as the page got it
    assert f"--out {own_root.as_posix()}/studio-archive/{first['batch']} " in first["command"]
    assert archived.get(first["tunes"][0]["files"]["abc"]).text == first["tunes"][0]["abc"]


def test_batches_are_listed_newest_first_starred_and_deleted(archived):
    older = answer(post(archived, checkpoint=MUSIC, tunes=1, seed=1, key="G"))["batch"]
    newer = answer(post(archived, checkpoint=MUSIC, tunes=2, seed=2))["batch"]
    listed = archived.get("/api/batches").json()["batches"]
    assert [b["id"] for b in listed] == [newer, older]
    assert listed[1]["settings"]["key"] == "G" and listed[1]["settings"]["seed"] == 1
    assert listed[0]["checkpoint"] == MUSIC and listed[0]["tunes"] == 2 and listed[0]["link"] == f"/?batch={newer}"
    assert 0 <= listed[0]["valid"] <= 2 and not listed[0]["starred"]
    assert archived.post(f"/api/batches/{older}/star", json={"starred": True}).json()["starred"] is True
    assert archived.get(f"/api/batches/{older}").json()["starred"] is True
    refused(archived.delete(f"/api/batches/{older}"), 409, "starred", "unstar it first")
    assert archived.delete(f"/api/batches/{newer}").json() == {"deleted": newer}
    assert archived.delete(f"/api/batches/{older}", params={"even_starred": "true"}).status_code == 200
    assert archived.get("/api/batches").json()["batches"] == []
    refused(archived.get(f"/api/batches/{newer}"), 404, "no batch")
    refused(archived.post(f"/api/batches/{newer}/star", json={"starred": "maybe"}), 400)


@pytest.mark.parametrize("path", [
    "/api/batches/..", "/api/batches/..%2F..%2Fprose-char", "/api/batches/2026-01-01-1%2F..%2F..",
    "/api/batches/prose-char", "/api/files/..%2Fprose-char/best.pt", "/api/files/2026-01-01-1/..%2F001.abc",
    "/api/files/2026-01-01-1/batch.json", "/api/batches/%2Fetc",
])
def test_a_batch_or_file_name_that_tries_to_escape_is_not_found(archived, path):
    assert archived.get(path).status_code == 404
    assert archived.delete(path).status_code in (404, 405)


def test_a_link_in_the_archive_is_never_served_nor_deleted(archived, own_root, tmp_path):
    batch = answer(post(archived, checkpoint=MUSIC, tunes=1, seed=4))["batch"]
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "001.abc").write_text("X:1\nK:C\nmine\n")
    (own_root / "studio-archive" / "2026-01-01-5").symlink_to(secret)
    (own_root / "studio-archive" / batch / "002.abc").symlink_to(secret / "001.abc")
    assert archived.get("/api/files/2026-01-01-5/001.abc").status_code == 404
    assert archived.get(f"/api/files/{batch}/002.abc").status_code == 404
    assert archived.delete("/api/batches/2026-01-01-5").status_code == 404
    assert [b["id"] for b in archived.get("/api/batches").json()["batches"]] == [batch]
    assert (secret / "001.abc").is_file()


def test_a_half_written_batch_is_listed_as_incomplete_not_a_failure(archived, own_root):
    done = answer(post(archived, checkpoint=MUSIC, tunes=1, seed=9))
    made = done["batch"]
    for tune in done["tunes"]:  # its .mid written (in the archive's own thread) before it is copied
        assert tune["files"]["mid"] is None or archived.get(tune["files"]["mid"]).status_code == 200
    archive = own_root / "studio-archive"
    shutil.copytree(archive / made, archive / "2026-01-02-3")
    (archive / "2026-01-02-3" / "batch.json").unlink()  # stopped before anything was recorded
    shutil.copytree(archive / made, archive / "2026-01-02-4")
    (archive / "2026-01-02-4" / "batch.json").write_text('{"created": "2026-01-02T')  # cut short by hand
    (archive / "2026-01-03-1").mkdir()  # nothing written yet
    (archive / "not-a-batch").mkdir()
    listed = {b["id"]: b for b in archived.get("/api/batches").json()["batches"]}
    assert set(listed) == {made, "2026-01-02-3", "2026-01-02-4", "2026-01-03-1"}
    assert listed[made]["complete"] and not listed["2026-01-02-3"]["complete"]
    assert listed["2026-01-02-3"]["tunes"] == 1 and listed["2026-01-03-1"]["tunes"] == 0
    opened = archived.get("/api/batches/2026-01-02-3").json()
    assert opened["complete"] is False and len(opened["tunes"]) == 1 and opened["tunes"][0]["abc"].startswith("X:")
    assert archived.delete("/api/batches/2026-01-02-4").status_code == 200


def test_open_add_finish_write_a_batch_as_the_command_line_does(own_root, music_run, tmp_path):
    from seqgen.studio.archive import Archive
    from seqgen.music.tune_files import TuneFolder

    batch = api.load(music_run.best_path).tunes(2, seed=5, max_rounds=1)
    archive = Archive(own_root)
    made = archive.open_batch({"seed": 5, "meter": None}, MUSIC)
    assert archive.list()[0]["complete"] is False  # listed while it is drawn
    for text, check in batch.valid + batch.invalid:
        archive.add_tune(made, text, check)
    archive.finish(made, {"summary": {"valid": len(batch.valid)}, "tunes": []})
    assert archive.get(made)["complete"] and archive.get(made)["summary"] == {"valid": len(batch.valid)}
    archive.close()  # the .mid files written (in a thread of the archive's own) before it returns
    cli = tmp_path / "cli"
    cli.mkdir()
    TuneFolder(cli).write_batch(batch, keep_invalid=True)
    folder = archive.folder / made
    assert {p.name: p.read_bytes() for p in cli.iterdir()} == \
        {p.name: p.read_bytes() for p in folder.iterdir() if p.name != "batch.json"}
    with pytest.raises(Exception, match="the server is stopping"):
        archive.open_batch({"seed": 5})


def test_the_catalog_ignores_the_archive(archived, own_root):
    (own_root / "studio-archive").mkdir()
    shutil.copy(own_root / TEXT, own_root / "studio-archive" / "planted.pt")
    ids = [c["id"] for c in archived.get("/api/checkpoints").json()["checkpoints"]]
    assert sorted(ids) == sorted([MUSIC, TEXT])
    refused(post(archived, checkpoint="studio-archive/planted.pt"), 404, "archive")


def test_the_command_shown_finds_its_batch_already_there_and_makes_the_same_files(archived, own_root, tmp_path):
    import shlex

    shown = answer(post(archived, checkpoint=MUSIC, tunes=3, meter="6/8", seed=12))
    folder = own_root / "studio-archive" / shown["batch"]
    for tune in shown["tunes"]:
        assert tune["files"]["mid"] is None or archived.get(tune["files"]["mid"]).status_code == 200
    (folder / "001.mid").unlink(missing_ok=True)  # a file the folder lacks is added
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    args = shlex.split(shown["command"])
    assert args[:2] == ["seqgen", "sample"]
    again = run(*args[1:])
    assert again.exit_code == 0, again.stderr
    assert "already holds this batch" in again.stderr
    after = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert {k: v for k, v in after.items() if k in before} == before and set(after) - set(before) <= {"001.mid"}
    out = args.index("--out")
    fresh = run(*args[1:out + 1], tmp_path / "fresh", *args[out + 2:])
    assert fresh.exit_code == 0, fresh.stderr
    made = {p.name: p.read_bytes() for p in (tmp_path / "fresh").iterdir()}
    assert made == {k: v for k, v in after.items() if k != "batch.json"}  # byte for byte
    other = run(*[a if a != "12" else "13" for a in args[1:]])
    assert other.exit_code == 1 and "already holds tunes of an earlier batch" in other.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == after  # left as it was


def test_an_archive_that_cannot_be_made_is_one_line_saying_so(archived, own_root):
    (own_root / "studio-archive").write_text("a file where the archive goes")
    refused(post(archived, checkpoint=MUSIC, tunes=1, seed=1), 500, "cannot keep tunes in", "studio-archive")
    assert archived.get("/api/batches").json() == {"batches": []}
