"""Filling in the page, as a person does it: a real ``seqgen studio`` process and headless Chromium
(``test_studio_browser``'s), a click on a note of a tune's sheet, "New bar here", the alternatives
drawn in place, "Use this"; and a span of a text regenerated."""

import time

from .test_studio_browser import browser, needs_browser, page, served, studio  # noqa: F401  (fixtures)
from .test_studio_fill import bar_spans

pytestmark = needs_browser
# A note is clicked where it is drawn, with force: abcjs takes the clicks of its whole sheet (its
# svg is what the pointer meets) and finds the note nearest to where it was clicked.
BAR = 2  # bar 3 of the tune, counted from 0 among its bars with notes


def tunes_drawn(page, seed: int) -> None:
    page.select_option("#checkpoint", "folk-music/best.pt")
    page.fill("#tunes", "2")
    page.fill("#seed", str(seed))
    page.click("#generate")
    page.wait_for_selector("#status:has-text('valid')", timeout=120_000)
    page.locator(".tune").nth(1).locator(".sheet svg .abcjs-note").first.wait_for(timeout=60_000)


def first_tune_with_bars(page, bars: int) -> str:
    """Tunes drawn until the first one's first line of music holds ``bars`` bars; its ABC."""
    for seed in range(1, 20):
        tunes_drawn(page, seed)
        card = page.locator(".tune").first
        if card.locator(f".sheet svg .abcjs-note.abcjs-l0.abcjs-m{bars - 1}").count():
            return card.locator("details pre").text_content()
    raise AssertionError(f"no tune with {bars} bars on its first line in 20 seeds")


def test_a_click_on_a_note_gives_alternatives_for_its_bar_and_use_this_replaces_only_that_bar(page, studio):
    old = first_tune_with_bars(page, BAR + 1)
    card = page.locator(".tune").first
    old_link = card.locator(".download-abc").get_attribute("href")
    assert not card.locator("button.new-bar").is_visible()
    card.locator(f".sheet svg .abcjs-note.abcjs-l0.abcjs-m{BAR}").first.click(force=True)
    assert card.get_attribute("data-selected-bars") == str(BAR)
    lit = card.locator(".sheet svg .fill-selected")
    assert lit.count() >= 1 and lit.count() == card.locator(f".sheet svg .fill-selected.abcjs-m{BAR}").count()
    new_bar = card.locator("button.new-bar")
    assert new_bar.text_content() == "New bar here"
    new_bar.click()

    choices = page.locator(".alternatives .alternative")
    choices.first.locator(".sheet svg .abcjs-note").first.wait_for(timeout=120_000)
    page.wait_for_function("() => [...document.querySelectorAll('.alternatives .alternative')]"
                           ".every((item) => item.querySelector('.sheet svg .abcjs-note'))", timeout=30_000)
    assert 2 <= choices.count() <= 5
    for i in range(choices.count()):
        assert choices.nth(i).locator(".sheet svg").count() == 1
        assert choices.nth(i).locator(".sheet svg .fill-new").count() >= 1  # the new bar is marked
        assert choices.nth(i).locator("button.use").is_visible()
    assert "--fill -" in page.text_content(".alternatives")
    choices.nth(1).locator("button.use").click()

    page.wait_for_selector(".alternatives", state="detached")
    card = page.locator(".tune").first
    card.locator(".sheet svg .abcjs-note").first.wait_for()
    new = card.locator("details pre").text_content()
    start, end = bar_spans(old)[BAR]
    assert new != old and new.startswith(old[:start]) and new.endswith(old[end:])
    assert len(bar_spans(new)) == len(bar_spans(old))
    link = card.locator(".download-abc").get_attribute("href")
    assert link != old_link  # the chosen tune's own file now
    assert page.request.get(studio.url.rstrip("/") + link).text().strip() == new.strip()


def test_shift_click_chooses_several_bars(page):
    first_tune_with_bars(page, 3)
    card = page.locator(".tune").first
    card.locator(".sheet svg .abcjs-note.abcjs-l0.abcjs-m0").first.click(force=True)
    card.locator(".sheet svg .abcjs-note.abcjs-l0.abcjs-m2").first.click(modifiers=["Shift"], force=True)
    assert card.get_attribute("data-selected-bars") == "0,2"
    assert card.locator("button.new-bar").text_content() == "New bars here (2)"
    card.locator(".sheet svg .abcjs-note.abcjs-l0.abcjs-m1").first.click(force=True)  # a plain click starts again
    assert card.get_attribute("data-selected-bars") == "1"


# Tunes and what each of their bars with notes holds, by hand: chord names, decorations, inline
# fields and comments are no bar lines; endings, repeats and double bars are.
BARS = [
    ('K:G\n|:"G"d2B AFD|"D7"!trill!EFG A2B|[1 c3 d3:|[2 c3 B3||\n', ['"G"d2B AFD', '"D7"!trill!EFG A2B', " c3 d3", " c3 B3"]),
    ("K:G\nGABc|1 dedB:|2 d2 g2|]\n", ["GABc", " dedB", " d2 g2"]),
    ("K:D\nA2|[M:3/4]B2 c2 d2|e6|]\n", ["A2", "[M:3/4]B2 c2 d2", "e6"]),
    ("K:G\n[GB]2 AB|c4|% a comment | with a bar\nP:B\nz2 dB::g4|\n", ["[GB]2 AB", "c4", "z2 dB", "g4"]),
    ('X:1\nT:No body\nK:G\n"only a chord name"|\n', []),
]


def test_the_page_finds_each_bar_where_a_musician_does(page):
    for tune, expected in BARS:
        found = page.evaluate("(abc) => SeqgenFill.bars(abc).map(([start, end]) => abc.slice(start, end))", tune)
        assert found == expected, tune
        assert [tune[start:end] for start, end in bar_spans(tune)] == expected  # the tests' own reading agrees


def test_a_span_of_text_is_regenerated_and_the_rest_kept(page):
    page.select_option("#checkpoint", "prose-char/best.pt")
    page.fill("#prime", "The ")
    page.fill("#length", "200")
    page.fill("#seed", "1")
    page.click("#generate")
    page.wait_for_selector("#status:has-text('Done')", timeout=60_000)
    old = page.text_content("#text-out")
    assert not page.is_visible("#regenerate")
    page.evaluate("""() => {
        const text = document.getElementById('text-out').firstChild, range = document.createRange();
        range.setStart(text, 20); range.setEnd(text, 40);
        getSelection().removeAllRanges(); getSelection().addRange(range);
    }""")
    page.click("#regenerate")
    choices = page.locator(".alternatives .alternative")
    choices.first.wait_for(timeout=120_000)
    assert 1 <= choices.count() <= 5 and choices.first.locator("mark").count() == 1
    choices.first.locator("button.use").click()
    deadline = time.monotonic() + 10
    while page.text_content("#text-out") == old and time.monotonic() < deadline:
        time.sleep(0.05)
    new = page.text_content("#text-out")
    assert new.startswith(old[:20]) and new.endswith(old[40:]) and new != old
