"""The studio as a person uses it: a real ``seqgen studio`` process on a free port, and headless
Chromium (the system's, driven by Playwright) clicking through the page. Skipped, with the reason,
where there is no Chromium or no Playwright; the process test needs neither."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seqgen.music.playback import playing_fields

from .helpers import make_soundfont
from .test_music_repeats import CASES as REPEAT_CASES, HEAD as REPEAT_HEAD

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
try:
    import playwright.sync_api as playwright
except ImportError:
    playwright = None
needs_browser = pytest.mark.skipif(
    CHROMIUM is None or playwright is None,
    reason="no headless browser here: " + ("apt-get install chromium" if CHROMIUM is None
                                           else "pip install playwright (the dev extra)"))


class Studio:
    """A ``seqgen studio`` process; ``url`` once it listens."""

    def __init__(self, root: Path, *args: str, cwd: Path):
        self.root, self.cwd = root, cwd
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([sys.executable, "-m", "seqgen", "studio", str(root), "--port", "0",
                                         "--no-browser", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.listening.wait(120):
            self.process.kill()
            raise AssertionError("seqgen studio did not start: " + "".join(self.lines))
        self.url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(self.lines)).group(0)

    def _read(self) -> None:
        for line in self.process.stderr:  # drained, so that the server never blocks on a full pipe
            self.lines.append(line)
            if " at http://" in line:
                self.listening.set()

    def interrupt(self, timeout: float = 20) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()  # never left running after a failed test
            raise

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


@pytest.fixture(scope="module")
def served(studio_root, tmp_path_factory) -> Path:
    """The runs of ``studio_root``, the music run with a second checkpoint (last.pt, older), and
    a checkpoint at the top of the folder."""
    root = tmp_path_factory.mktemp("served") / "checkpoints"
    shutil.copytree(studio_root, root)
    shutil.copy(root / "folk-music" / "best.pt", root / "folk-music" / "last.pt")
    os.utime(root / "folk-music" / "last.pt", (1e9, 1e9))
    shutil.copy(root / "prose-char" / "best.pt", root / "loose.pt")
    return root


@pytest.fixture(scope="module")
def studio(served, tmp_path_factory):
    font = make_soundfont(tmp_path_factory.mktemp("sound") / "sine.sf2")
    server = Studio(served, "--soundfont", str(font), cwd=tmp_path_factory.mktemp("cwd"))
    yield server
    if server.process.poll() is None:
        server.interrupt()


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, studio):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    foreign: list[str] = []  # the page works offline: it never asks another site for anything
    context.route(lambda url: not url.startswith(studio.url),
                  lambda route: (foreign.append(route.request.url), route.abort()))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(studio.url)
    page.wait_for_selector("#checkpoint option", state="attached")
    yield page
    context.close()
    assert not errors, errors  # no script failed in the page
    assert not foreign, foreign


@needs_browser
def test_two_tunes_to_order_appear_as_sheet_music_and_their_midi_downloads(page, studio, tmp_path):
    from music21 import converter, key, meter

    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "2")
    page.select_option("#meter", "6/8")
    page.select_option("#key", "G")
    page.fill("#seed", "3")
    page.click("#generate")
    tunes = page.locator(".tune")
    tunes.nth(1).locator(".sheet svg .abcjs-note").first.wait_for(timeout=60_000)
    assert tunes.count() == 2
    for i in range(2):
        assert tunes.nth(i).locator(".sheet svg").count() == 1
        assert tunes.nth(i).locator(".sheet svg .abcjs-note").count() >= 4  # notes, not an empty staff
        assert tunes.nth(i).locator(".badge").text_content() in ("valid", "valid, re-sampled", "invalid")
    assert "of 2 valid" in page.text_content("#status")
    assert "--tunes 2 --meter 6/8 --key G" in page.text_content("#command-text")
    assert "--seed 3" in page.text_content("#command-text")
    with page.expect_download() as download:
        page.locator(".tune .download-mid").first.click()
    midi = tmp_path / "tune.mid"
    download.value.save_as(midi)
    score = converter.parse(midi)
    assert score.recurse().getElementsByClass(meter.TimeSignature).first().ratioString == "6/8"
    assert score.recurse().getElementsByClass(key.KeySignature).first().sharps == 1  # G major
    wav = page.request.get(studio.url.rstrip("/") + page.locator(".tune .download-wav").first.get_attribute("href"))
    assert wav.ok and wav.body()[:4] == b"RIFF" and wav.body()[8:12] == b"WAVE"
    assert page.locator(".tune button.play").first.is_enabled()


@needs_browser
def test_again_with_a_new_seed_is_one_click(page):
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "1")
    page.fill("#seed", "3")
    page.click("#generate")
    page.wait_for_selector("#command-text:has-text('--seed 3')")
    page.click("#again")
    # Not a substring: a new seed may begin with 3.
    page.wait_for_selector("#command-text:not(:text-matches('--seed 3$'))", timeout=60_000)
    page.locator(".tune .sheet svg").first.wait_for()
    assert re.search(r"--seed \d+$", page.text_content("#command-text"))


@needs_browser
def test_text_streams_into_the_page_and_stops(page):
    page.select_option("#checkpoint", "prose-char/best.pt")
    page.fill("#prime", "The ")
    page.fill("#length", "20000")
    page.click("#generate")
    out = page.locator("#text-out")
    deadline = time.monotonic() + 60
    while len(out.text_content()) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)
    written = out.text_content()
    assert written.startswith("The ") and len(written) >= 60
    assert page.is_enabled("#stop")  # still writing: the text came as it was drawn
    page.keyboard.press("Escape")
    page.wait_for_selector("#status:has-text('Stopped')")
    stopped_at = len(out.text_content())
    assert stopped_at < 20_000
    page.fill("#length", "100")
    page.keyboard.press("Control+Enter")  # the model is free again
    page.wait_for_selector("#status:has-text('Done')", timeout=60_000)
    assert out.text_content().startswith("The ") and not page.is_visible("#error")


@needs_browser
def test_the_controls_show_the_options_defaults_and_help(page):
    from dataclasses import fields

    from seqgen.config import SampleConfig

    help_of = {f.name: f.metadata["help"] for f in fields(SampleConfig)}
    page.wait_for_function("document.getElementById('temperature').value !== ''")
    assert float(page.input_value("#temperature")) == SampleConfig().temperature
    assert int(page.input_value("#length")) == SampleConfig().length
    assert page.get_attribute("#temperature", "title") == help_of["temperature"]
    assert page.get_attribute("#top_k", "title") == help_of["top_k"]


@needs_browser
def test_a_bad_option_is_one_readable_line_in_the_page(page):
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.select_option("#meter", label="other…")
    page.fill("#meter-other", "banana")
    page.click("#generate")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error").startswith("--meter 'banana' is not a meter music21 reads")


@needs_browser
def test_the_page_says_which_tune_is_drawn_and_stop_ends_the_servers_job(page):
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "20")  # about half a minute of drawing here
    page.fill("#seed", "1")
    page.evaluate("""() => { window.said = [];
        new MutationObserver(() => said.push(document.getElementById('status').textContent))
            .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }); }""")
    page.click("#generate")
    page.locator(".tune").first.wait_for(timeout=60_000)  # tunes appear one by one
    assert page.is_enabled("#stop") and page.locator("#status.working").count() == 1  # a sign of work
    assert "Drawing tune 1 of 20, attempt 1…" in page.evaluate("window.said")
    assert page.locator(".tune").count() < 20
    page.click("#stop")
    page.wait_for_selector("#status:has-text('Stopped')")
    kept = page.locator(".tune").count()
    assert re.fullmatch(rf"Stopped: {kept} tunes? kept of 20\.", page.text_content("#status"))
    assert page.locator("#status.working").count() == 0
    page.fill("#tunes", "1")
    page.click("#generate")  # at once: the server's job has ended and let the model go (no 429)
    page.wait_for_selector("#status:has-text('of 1 valid')", timeout=60_000)
    assert not page.is_visible("#error"), page.text_content("#error")


@needs_browser
def test_meter_and_key_menus_offer_what_the_models_tunes_have(page, served):
    from seqgen import api

    page.select_option("#checkpoint", "folk-music/best.pt")
    fields = api.load(served / "folk-music" / "best.pt").data["fields"]
    for name in ("meter", "key"):
        options = page.eval_on_selector_all(f"#{name} option", "os => os.map(o => [o.value, o.textContent])")
        assert options[0] == ["", "any"] and options[-1][1] == "other…"
        offered = [value for value, _ in options[1:-1]]
        assert offered == [v for v, _ in fields[name]][:len(offered)] and len(offered) >= 3  # most common first
        value, count = fields[name][0]
        assert options[1] == [value, f"{value} ({count})"]
        assert page.input_value(f"#{name}") == ""  # any, until chosen
        assert not page.is_visible(f"#{name}-other")
        page.select_option(f"#{name}", label="other…")
        assert page.is_visible(f"#{name}-other")
    style = page.evaluate("getComputedStyle(document.getElementById('prime_abc'), '::placeholder').fontStyle")
    assert style == "italic"  # a placeholder does not look like a value


@needs_browser
def test_one_entry_per_run_with_its_other_checkpoints_inside(page):
    labels = page.eval_on_selector_all("#checkpoint option", "os => os.map(o => o.textContent)")
    assert len(labels) == 3  # two runs and a checkpoint at the top of the folder
    music = next(label for label in labels if label.startswith("folk-music · "))
    assert re.match(r"folk-music · best \(step \d+, ppl \d+\.\d\d\) · music$", music)
    assert any(label.startswith("loose.pt") for label in labels)
    page.select_option("#checkpoint", "folk-music/best.pt")
    assert page.is_visible("#checkpoint-file")
    inside = page.eval_on_selector_all("#checkpoint-file option", "os => os.map(o => o.value)")
    assert inside == ["folk-music/best.pt", "folk-music/last.pt"]
    page.select_option("#checkpoint-file", "folk-music/last.pt")
    page.fill("#tunes", "1")
    page.click("#generate")
    page.wait_for_selector("#command-text:has-text('folk-music/last.pt')", timeout=60_000)
    page.select_option("#checkpoint", "prose-char/best.pt")
    assert not page.is_visible("#checkpoint-file")  # a run with one checkpoint has nothing inside


@needs_browser
def test_the_command_bar_shows_only_once_there_is_a_command(page):
    assert not page.is_visible("#command") and not page.is_visible("#copy")
    page.select_option("#checkpoint", "prose-char/best.pt")
    page.fill("#length", "20")
    page.click("#generate")
    page.wait_for_selector("#status:has-text('Done')", timeout=60_000)
    assert page.is_visible("#command") and page.text_content("#command-text").startswith("seqgen sample")


@needs_browser
def test_on_a_phone_the_tunes_scroll_into_view(browser, studio):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(studio.url)
        page.wait_for_selector("#checkpoint option", state="attached")
        page.select_option("#checkpoint", "folk-music/best.pt")
        page.fill("#tunes", "1")
        assert page.evaluate("document.querySelector('.output').getBoundingClientRect().top") > 844 / 2  # under the form
        page.click("#generate")
        page.locator(".tune").first.wait_for(timeout=60_000)
        page.wait_for_function("""() => { const top = document.querySelector('.output').getBoundingClientRect().top;
                                          return Math.abs(top) < 30; }""")  # the results at the top of the screen
        assert page.evaluate("window.scrollY") > 0
    finally:
        context.close()


def two_tunes_drawn(page) -> None:
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "2")
    page.fill("#seed", "3")
    page.click("#generate")
    page.locator(".tune").nth(1).locator("button.play:enabled").wait_for(timeout=60_000)


def player(page) -> dict:
    return page.evaluate("SeqgenPlayer.status()")


# What sounds and what is lit, watched in the page for ``seconds`` (or for one second once three
# notes were lit): the notes lit (each by its place, abcjs's classes: line, measure, note), the
# cursor's positions, the audio clock.
WATCH = """(seconds) => new Promise((done) => {
  const lit = new Set(), cursor = new Set(), start = SeqgenPlayer.status(), began = performance.now();
  const timer = setInterval(() => {
    for (const el of document.querySelectorAll(".sheet .playing")) lit.add(el.getAttribute("class"));
    const line = document.querySelector(".sheet svg line.cursor");
    if (line) cursor.add(line.getAttribute("x1") + "," + line.getAttribute("y1"));
    const elapsed = (performance.now() - began) / 1000;
    if (elapsed >= seconds || (elapsed >= 1 && lit.size >= 3 && cursor.size >= 3)) {
      clearInterval(timer);
      done({lit: [...lit], cursor: [...cursor], start, end: SeqgenPlayer.status()});
    }
  }, 20);
})"""


@needs_browser
def test_a_tune_plays_in_the_page_its_notes_lit_as_they_sound_and_stop_stops_it(page, studio):
    notes = []
    page.on("response", lambda r: notes.append(r.status) if "/soundfont/" in r.url else None)
    two_tunes_drawn(page)
    first, second = (page.locator(".tune").nth(i).locator("button.play") for i in range(2))
    first.click()  # a user's gesture: the browser lets the page's audio start
    page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
    assert first.text_content() == "■ Stop"
    seen = page.evaluate(WATCH, 4)
    assert notes and set(notes) == {200}  # every note came from the studio itself
    assert seen["end"]["audio"] == "running" and seen["end"]["time"] > seen["start"]["time"] + 0.5
    assert seen["end"]["tune"] == 1 and seen["end"]["events"] > seen["start"]["events"]
    assert len(seen["lit"]) >= 3, seen  # the lit note changed at least twice
    assert len(seen["cursor"]) >= 3, seen  # and the cursor moved with it
    assert page.locator(".tune").nth(1).locator(".playing").count() == 0  # only the tune playing is lit

    second.click()  # playing another tune stops the first
    page.wait_for_function("() => SeqgenPlayer.status().tune === 2 && SeqgenPlayer.status().state === 'playing'",
                           timeout=60_000)
    assert first.text_content() == "▶ Play" and second.text_content() == "■ Stop"
    second.click()
    stopped = player(page)
    assert stopped["state"] == "stopped" and second.text_content() == "▶ Play"
    after = page.evaluate(WATCH, 0.5)
    assert after["lit"] == [] and after["cursor"] == [] and after["end"]["events"] == stopped["events"]


@needs_browser
def test_the_tempo_control_sets_the_tempo_the_synth_plays_and_the_cursor_follows(page):
    two_tunes_drawn(page)
    play = page.locator(".tune").first.locator("button.play")
    played = {}
    for percent in (100, 50):
        page.fill("#tempo", str(percent))
        play.click()
        page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
        played[percent] = player(page)
        assert f"♩ = {round(played[percent]['qpm'])}" in page.text_content("#tempo-now")
        play.click()
    assert played[50]["qpm"] == pytest.approx(played[100]["qpm"] / 2)
    fade = 0.2  # abcjs's fade after the last note, at any tempo
    assert played[50]["duration"] - fade == pytest.approx(2 * (played[100]["duration"] - fade), rel=0.05)
    play.click()  # at 50 %; a new tempo while it plays takes effect at once
    page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
    page.fill("#tempo", "100")
    page.dispatch_event("#tempo", "change")
    page.wait_for_function("(qpm) => SeqgenPlayer.status().state === 'playing' && SeqgenPlayer.status().qpm === qpm",
                           arg=played[100]["qpm"], timeout=60_000)
    assert play.text_content() == "■ Stop"


def one_tune_shown(page, **fields) -> None:
    """A tune entry as the server sends one (``fields`` on top), shown as the page shows it."""
    tune = {"n": 1, "title": "Tune", "valid": True, "verdict": "valid", "reasons": [],
            "files": {"abc": None, "mid": None, "wav": None}, **fields}
    page.evaluate("(tune) => document.getElementById('tunes-out').replaceChildren(tuneCard(tune))", tune)
    page.locator(".tune .sheet svg").wait_for()


SCALE = "X:1\nT:Scale\nM:4/4\nL:1/4\n{tempo}K:C\n|: CDEF | GABc {end}\n"
JIG = "X:1\nT:Jig\nM:6/8\nL:1/8\nQ:3/8=100\nK:G\n|: GAB cde | dcB AGF ||\n"


@needs_browser
@pytest.mark.parametrize("fields, qpm, quarters", [
    # the server's reading: the tune as played (its ill-formed repeat repaired), at its tempo
    ({"abc": SCALE.format(tempo="", end="||"), "played_abc": SCALE.format(tempo="", end=":|"),
      "tempo": {"qpm": 200, "beat": "1/4", "source": "reel default"}}, 200, 16),
    # without it (an older server): the ABC as written, at abcjs's reading of Q:
    ({"abc": SCALE.format(tempo="Q:1/4=120\n", end="||")}, 120, 8),
    ({"abc": JIG}, 150, 6),  # Q:3/8=100 is 150 quarter notes a minute; 12 eighths played once
])
def test_a_tune_plays_as_played_at_its_own_tempo(page, fields, qpm, quarters):
    one_tune_shown(page, **fields)
    page.locator(".tune button.play:enabled").click()
    page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
    status = player(page)
    assert status["qpm"] == pytest.approx(qpm)
    assert status["duration"] == pytest.approx(quarters * 60 / qpm + 0.2, abs=0.05)  # abcjs fades 0.2 s
    page.locator(".tune button.play").click()


@needs_browser
def test_the_page_plays_repeats_as_a_musician_reads_them(page):
    """The server's reading of each tune (its entry's played_abc), played by the page's synth:
    its notes counted, against the counts made by hand that the MIDI file is held to."""
    played = {}
    for what, body, _ in REPEAT_CASES:  # one page for all: a page each would double the time
        text = REPEAT_HEAD + body + "\n"
        one_tune_shown(page, abc=text, **playing_fields(text))
        page.locator(".tune button.play:enabled").click()
        page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
        played[what] = player(page)["notes"]
        page.locator(".tune button.play").click()
    assert played == {what: by_hand for what, _, by_hand in REPEAT_CASES}


@needs_browser
def test_a_tune_that_names_its_instrument_and_drums_plays_them(page):
    asked = []
    page.on("response", lambda r: asked.append((r.url.split("/soundfont/")[1], r.status)) if "/soundfont/" in r.url else None)
    abc = "X:1\nT:Fiddle\nM:2/4\nL:1/8\n%%MIDI program 110\n%%MIDI drum dd 36 38 100 100\n%%MIDI drumon\nK:D\n|:DEFG|ABcd:|\n"
    one_tune_shown(page, abc=abc)
    page.locator(".tune button.play:enabled").click()
    page.wait_for_function("() => SeqgenPlayer.status().state === 'playing'", timeout=60_000)
    page.locator(".tune button.play").click()
    assert {note for note, _ in asked} >= {"fiddle-mp3/D4.mp3", "percussion-mp3/C2.mp3", "percussion-mp3/D2.mp3"}
    assert {status for _, status in asked} == {200}  # drums silent where the soundfont has no kit


@needs_browser
def test_without_a_soundfont_play_is_disabled_and_says_what_to_install(page):
    page.evaluate("state.sound = {available: false, note: 'For sound: apt-get install fluid-soundfont-gm'}")
    one_tune_shown(page, abc=JIG)
    play = page.locator(".tune button.play")
    assert play.is_disabled() and play.get_attribute("title") == "For sound: apt-get install fluid-soundfont-gm"


def test_ctrl_c_stops_the_server_cleanly(studio_root, tmp_path):
    server = Studio(studio_root, cwd=tmp_path)
    assert server.interrupt() == 130
    assert "error: interrupted: seqgen studio stopped" in server.stderr and "Traceback" not in server.stderr


# -- the archive ---------------------------------------------------------------------------------

def batch_in(url: str) -> str:
    return re.search(r"[?&]batch=([\w-]+)", url).group(1)


def wait_until(check, timeout: float = 60) -> None:
    """Polled from here: the page's rules (no eval) refuse Playwright's own polling of an expression."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "waited in vain"
        time.sleep(0.1)


def chosen(page, menu: str) -> str:
    """A menu's value as the request takes it: its "other…" is the text typed beside it."""
    value = page.input_value(f"#{menu}")
    return page.input_value(f"#{menu}-other") if value == "\u2026other" else value


def address(page) -> str:
    """The page's address as it is now (``page.url`` follows ``history.replaceState`` late)."""
    return page.evaluate("() => location.href")


def generated(page) -> str:
    """Generate, and wait for the batch to be in the address and the history: its id."""
    page.click("#generate")
    page.wait_for_selector("#history-list .batch.current", timeout=60_000)
    wait_until(lambda: "batch=" in address(page))
    return batch_in(address(page))


@needs_browser
def test_a_batch_made_in_the_page_is_in_the_history_and_its_link_restores_it(page, studio):
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "2")
    page.select_option("#meter", "other…")
    page.fill("#meter-other", "3/4")
    page.fill("#seed", "21")
    batch = generated(page)
    page.locator(".tune .sheet svg").nth(1).wait_for(timeout=60_000)
    assert batch.endswith("-21") and "meter=3/4" in address(page) and "seed=21" in address(page)
    entry = page.locator(f"#history-list .batch[data-batch='{batch}']")
    entry.wait_for()
    assert "3/4" in entry.text_content() and "2 tunes" in entry.text_content()
    made = [page.locator(".tune details pre").nth(i).text_content() for i in range(2)]
    command = page.text_content("#command-text")
    page.goto(f"{studio.url}?batch={batch}")  # the shared link, in a fresh page
    page.locator(".tune .sheet svg").nth(1).wait_for(timeout=30_000)
    assert [page.locator(".tune details pre").nth(i).text_content() for i in range(2)] == made
    assert page.text_content("#command-text") == command and f"Batch {batch}" in page.text_content("#status")
    assert chosen(page, "meter") == "3/4" and page.input_value("#seed") == "21"
    page.reload()
    page.locator(".tune .sheet svg").nth(1).wait_for(timeout=30_000)
    assert batch_in(address(page)) == batch and page.locator(".tune").count() == 2


@needs_browser
def test_a_reload_with_the_form_in_the_address_restores_the_form(page, studio):
    page.goto(f"{studio.url}?checkpoint=folk-music/best.pt&meter=6/8&key=Dmix&seed=1&tunes=3&top_k=20")
    wait_until(lambda: page.input_value("#seed") == "1")
    assert page.input_value("#checkpoint") == "folk-music/best.pt" and page.is_visible("#music-fields")
    assert [page.input_value(f"#{f}") for f in ("meter", "tunes", "top_k")] == ["6/8", "3", "20"]  # from its menu
    assert chosen(page, "key") == "Dmix"
    page.fill("#temperature", "0.95")
    wait_until(lambda: "temperature=0.95" in address(page))
    page.reload()
    wait_until(lambda: page.input_value("#temperature") == "0.95")
    assert chosen(page, "key") == "Dmix" and page.input_value("#seed") == "1"


@needs_browser
def test_a_batch_is_starred_and_deleted_after_confirmation(page, studio):
    asked: list[str] = []
    page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "1")
    page.fill("#seed", "31")
    batch = generated(page)
    entry = page.locator(f"#history-list .batch[data-batch='{batch}']")
    entry.locator(".star").click()
    page.wait_for_selector(f"#history-list .batch[data-batch='{batch}'] .star[aria-pressed='true']")
    entry.locator(".delete").click()
    entry.wait_for(state="detached")
    assert len(asked) == 2 and "starred" in asked[1]  # asked twice: it was starred
    assert not (studio.root / "studio-archive" / batch).exists() and "batch=" not in address(page)


@needs_browser
def test_the_command_shown_makes_the_same_files(page, studio, tmp_path):
    import shlex

    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "2")
    page.fill("#seed", "41")
    folder = studio.root / "studio-archive" / generated(page)
    page.locator(".tune .sheet svg").nth(1).wait_for(timeout=60_000)
    args = shlex.split(page.text_content("#command-text"))
    assert args[args.index("--out") + 1] == folder.as_posix()
    seqgen = [sys.executable, "-m", "seqgen", *args[1:]]
    again = subprocess.run(seqgen, cwd=studio.cwd, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "already holds this batch" in again.stderr, again.stderr
    out = seqgen.index("--out")
    seqgen[out + 1] = str(tmp_path / "fresh")
    fresh = subprocess.run(seqgen, cwd=studio.cwd, capture_output=True, text=True, timeout=300)
    assert fresh.returncode == 0, fresh.stderr
    made = {p.name: p.read_bytes() for p in (tmp_path / "fresh").iterdir()}
    kept = {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix in (".abc", ".mid")}
    assert made == kept and any(name.endswith(".mid") for name in made)


def test_the_archive_survives_a_restart(studio_root, tmp_path):
    import json
    import shutil
    import urllib.request

    root = tmp_path / "runs"
    shutil.copytree(studio_root / "folk-music", root / "folk-music")
    server = Studio(root, cwd=tmp_path)
    try:
        request = urllib.request.Request(server.url + "api/sample", method="POST",
                                         data=json.dumps({"checkpoint": "folk-music/best.pt", "tunes": 1,
                                                          "seed": 8}).encode(),
                                         headers={"Content-Type": "application/json"})
        *_, made = map(json.loads, urllib.request.urlopen(request, timeout=120).read().splitlines())
        assert made.pop("event") == "done", made
    finally:
        assert server.interrupt() == 130
    again = Studio(root, cwd=tmp_path)
    try:
        listed = json.loads(urllib.request.urlopen(again.url + "api/batches", timeout=30).read())["batches"]
        assert [b["id"] for b in listed] == [made["batch"]]
        opened = json.loads(urllib.request.urlopen(again.url + f"api/batches/{made['batch']}", timeout=30).read())
        assert opened == made
        for kind in ("abc", "mid"):
            with urllib.request.urlopen(again.url + made["tunes"][0]["files"][kind].lstrip("/"), timeout=60) as got:
                assert got.read() == (root / "studio-archive" / made["batch"] / got.url.rsplit("/", 1)[1]).read_bytes()
    finally:
        again.interrupt()
