"""Take the README's picture of the studio, and time it from click to sheet music (the first tune's, every tune's).

    python scripts/studio_screenshot.py checkpoints/ --out docs/studio.png --tunes 5

Starts ``seqgen studio`` on a free port, opens the page in headless Chromium (the system's,
through Playwright), picks the newest music checkpoint, asks for ``--tunes`` tunes (``--meter``,
``--key``, ``--seed``) and measures the time from the click on Generate until the first tune's
sheet music is drawn (tunes come as they are ready) and until every tune's is, ``--repeats``
times (new seeds after the first). Prints the times; the picture is of the first result.

    python scripts/studio_screenshot.py checkpoints/ --out docs/studio-fill.png --tunes 1 --fill

With ``--fill``, the tunes are drawn once; a note of bar 3 of the first tune is then clicked and
"New bar here" pressed ``--repeats`` times (a new seed each time): the time from the press until
every alternative's sheet music is drawn. The picture is of the first alternatives, under their tune.
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/studio.png"))
    parser.add_argument("--tunes", type=int, default=5)
    parser.add_argument("--meter", default="6/8")
    parser.add_argument("--key", default="Dmix")
    parser.add_argument("--seed", default="1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fill", action="store_true", help="picture and time alternatives for bar 3 of the first tune")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
    if chromium is None:
        sys.exit("no Chromium here: apt-get install chromium")
    server = subprocess.Popen([sys.executable, "-m", "seqgen", "studio", str(args.folder), "--port", "0",
                               "--no-browser"], stderr=subprocess.PIPE, text=True)
    try:
        url = None
        while url is None:
            line = server.stderr.readline()
            if not line:
                sys.exit("seqgen studio did not start")
            found = re.search(r"http://127\.0\.0\.1:\d+/", line)
            url = found.group(0) if found else None
        # drained from here on, so that the server never blocks writing to a full pipe
        threading.Thread(target=server.stderr.read, daemon=True).start()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 1180 if args.fill else 860})
            page.goto(url)
            page.wait_for_selector("#checkpoint option", state="attached")
            music = [o.get_attribute("value") for o in page.locator("#checkpoint option").all()
                     if " · music" in (o.text_content() or "")]
            if not music:
                sys.exit(f"no music checkpoint under {args.folder}")
            page.select_option("#checkpoint", music[0])
            page.fill("#tunes", str(args.tunes))
            for name, value in (("meter", args.meter), ("key", args.key)):
                choose(page, name, value)
            page.fill("#seed", args.seed)
            times, firsts = [], []
            for i in range(1 if args.fill else args.repeats):
                # The last batch's cards stay until the new one's first tune comes: marked, so
                # that only the new cards are waited for.
                page.evaluate("() => document.querySelectorAll('.tune').forEach((c) => c.dataset.old = '1')")
                new = ".tune:not([data-old])"
                started = time.perf_counter()
                page.click("#generate" if i == 0 else "#again")
                page.wait_for_selector(f"{new} .sheet svg .abcjs-note", timeout=300_000)
                firsts.append(time.perf_counter() - started)
                page.wait_for_function(f"() => document.querySelectorAll('{new} .sheet svg .abcjs-note').length "
                                       f"&& document.querySelectorAll('{new}').length >= {args.tunes} && "
                                       f"[...document.querySelectorAll('{new}')].every((c) => c.querySelector('.sheet svg .abcjs-note'))",
                                       timeout=300_000)
                page.wait_for_selector("#generate:not([disabled])")
                times.append(time.perf_counter() - started)
                if i == 0 and not args.fill:
                    picture(page, args.out)
            fills = fill_bar(page, args.repeats, args.out) if args.fill else []
            browser.close()
        for what, measured in (("the first tune's", firsts), ("every tune's", times), ("every alternative's", fills)):
            if not measured:
                continue
            shown = ", ".join(f"{t:.2f}" for t in measured)
            press = "New bar here" if measured is fills else "click"
            print(f"{music[0]}: {args.tunes} tunes, {press} to {what} sheet music: median "
                  f"{statistics.median(measured):.2f} s ({shown} s)")
        print(f"picture: {args.out}")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)


def picture(page, out: Path) -> None:
    time.sleep(0.5)  # abcjs settles the layout to the width it has
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))


def fill_bar(page, repeats: int, out: Path) -> list[float]:
    """Bar 3 of the first tune chosen, and "New bar here" pressed ``repeats`` times: the seconds
    from each press until every alternative is drawn. The picture is of the first alternatives."""
    card = page.locator(".tune").first
    card.locator(".sheet svg .abcjs-note.abcjs-l0.abcjs-m2").first.click(force=True)  # abcjs takes the sheet's clicks
    times = []
    for i in range(repeats):
        page.evaluate("() => document.querySelectorAll('.alternatives').forEach((p) => p.dataset.old = '1')")
        started = time.perf_counter()
        card.locator("button.new-bar").click()
        page.wait_for_function("() => { const items = [...document.querySelectorAll('.alternatives:not([data-old]) "
                               ".alternative')]; return items.length > 0 && items.every((item) => "
                               "item.querySelector('.sheet svg .abcjs-note')); }", timeout=300_000)
        times.append(time.perf_counter() - started)
        if i == 0:
            card.evaluate("(c) => c.scrollIntoView({ block: 'start' })")  # the tune, and under it the alternatives
            picture(page, out)
    return times


def choose(page, name: str, value: str) -> None:
    """The meter or key ``value`` from its menu, typed in after "other…" when the model's tunes
    do not have it."""
    offered = page.eval_on_selector_all(f"#{name} option", "options => options.map(o => o.value)")
    if value in offered:
        page.select_option(f"#{name}", value)
    else:
        page.select_option(f"#{name}", label="other…")
        page.fill(f"#{name}-other", value)


if __name__ == "__main__":
    main()
