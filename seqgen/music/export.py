"""ABC -> MIDI that does not fail and keeps every note, plus optional audio (fluidsynth) and sheet
music (lilypond).

music21's MIDI writer plays repeats out (``expandRepeats``, exponentially too often on some
tunes), raises on some tunes that it parses fine, and loses or garbles notes of others without a
word. So the repeats are played out here (``played_out``) and the result mended
(``_make_playable``) before the writer sees it; where that fails, a fallback keeps every note.
The way used is recorded in ``ExportResult.method``:

    plain               repeats played out
    repeats-unexpanded  repeat signs music21 cannot pair up become plain bar lines: every note once
    flat-notes          notes, rests and tempo marks in one stream, no bars: every note once

Every file written is read back and its notes compared with the score's (``notes_differ``); a
fallback whose file differs is passed over for the next one.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import MusicError
from .abc import clean_tune, read_abc_text, split_tunes
from .notes import difference, is_tied_on, midi_notes, note_sounds, played_out, score_notes, score_parts
from .validate import parse_abc

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2",
              "/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/soundfonts/FluidR3_GM2-2.sf2")
EXPANDS_REPEATS = {"plain": True, "repeats-unexpanded": False, "flat-notes": False}


@dataclass
class ExportResult:
    """One tune's export: ``path`` is None when music21 cannot parse it (``method == "failed"``)."""

    path: Path | None
    method: str  # "plain", the fallback that worked, or "failed"
    title: str = ""
    error: str = ""  # why it failed, for "failed"
    mismatch: str = ""  # how the file's notes differ from the score's when no fallback got them right

    @property
    def expands_repeats(self) -> bool:
        """Whether the MIDI file plays repeated sections as often as they repeat (method "plain")."""
        return EXPANDS_REPEATS.get(self.method, False)


def _make_playable(score) -> None:
    """Mend ``score`` (a copy, repeats already played out) so that music21's MIDI writer plays it
    note for note. Three writer problems, all met in O'Neill's tunes:

    - music21's ABC reader can put one TimeSignature object in two bars (a meter that returns
      after a change), and the writer then raises: each bar gets its own.
    - The writer puts a grace note's note-off before its note-on, so players hold it until the
      next note of that pitch ends: grace notes (zero length, taking no time) are left out.
    - O'Neill's ``-`` between two different notes (a slur) reads as a tie, and the writer merges
      the two into one, dropping the second: ties are kept only where they join two notes of one
      pitch, the rule ``score_notes`` follows.
    """
    from music21 import meter, tie

    seen: set[int] = set()
    for site in _streams(score):
        for ts in list(site.getElementsByClass(meter.TimeSignature)):
            if id(ts) in seen:
                site.replace(ts, copy.deepcopy(ts))
            seen.add(id(ts))
    for site in _streams(score):
        for n in list(site.notes):
            if n.duration.quarterLength == 0:
                site.remove(n)
    for part in score_parts(score):
        sounds = list(note_sounds(part))
        starts = {(on, pitch) for on, _, pitch, _ in sounds}
        ahead = {id(n) for on, length, pitch, n in sounds if is_tied_on(n) and (on + length, pitch) in starts}
        arrivals = {(on + length, pitch) for on, length, pitch, n in sounds if id(n) in ahead}
        for on, _, pitch, n in sounds:
            forward, back = id(n) in ahead, (on, pitch) in arrivals
            kind = "continue" if forward and back else "start" if forward else "stop" if back else None
            n.tie = tie.Tie(kind) if kind else None


def _streams(score) -> list:
    """``score`` and every stream in it: containers by name, since an object that sits in two of
    them has only one ``activeSite`` (or none)."""
    return [score, *score.recurse(streamsOnly=True, includeSelf=False)]


def _plain(score):
    return score  # not a copy: playing the repeats out in _write_midi copies it


def _without_repeats(score):
    """Plain barlines instead of repeat signs: the written notes, played once."""
    from music21 import bar, repeat, spanner, stream

    score = copy.deepcopy(score)
    for m in score.recurse().getElementsByClass(stream.Measure):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, bar.Barline("regular"))
    # First/second-ending brackets and D.C./segno marks would make the writer expand again.
    for site in _streams(score):
        for el in list(site.getElementsByClass((spanner.RepeatBracket, repeat.RepeatExpression))):
            site.remove(el)
    return score


def _flat_notes(score):
    """Last resort: every note, rest, chord and tempo mark at its offset, in one flat stream."""
    from music21 import note, stream, tempo

    flat = stream.Stream()
    for el in score.flatten().getElementsByClass((note.GeneralNote, tempo.MetronomeMark)):
        flat.insert(el.offset, copy.deepcopy(el))
    return flat


FALLBACKS = (("plain", _plain), ("repeats-unexpanded", _without_repeats), ("flat-notes", _flat_notes))


def tune_to_midi(tune, path: Path) -> ExportResult:
    """Write one tune (ABC text or a parsed music21 score) to ``path``, trying each fallback in turn
    until one writes a file that holds the score's notes.

    The file appears only complete (written beside it, then renamed). ``MusicError`` when
    ``path``'s folder cannot be written; a tune music21 cannot parse gives ``method="failed"``.
    Should no fallback get the notes right, the last file written stays, and ``mismatch`` says
    how it differs.
    """
    score = parse_abc(tune) if isinstance(tune, str) else tune
    if score is None:
        return ExportResult(None, "failed", error="music21 cannot parse it")
    path = Path(path)
    result = ExportResult(None, "failed", error="music21 could not write MIDI even from the bare notes")
    tmp = _temp_beside(path)
    try:
        for name, fix in FALLBACKS:
            try:
                mismatch = _write_midi(score, name, fix, tmp)
            except OSError as exc:
                raise MusicError(f"cannot write {path}: {exc.strerror or exc}") from None
            except Exception:  # music21 raises many kinds on odd scores: try the next way
                continue
            os.replace(tmp, path)
            result = ExportResult(path, name, mismatch=mismatch)
            if not mismatch:
                break
    finally:
        tmp.unlink(missing_ok=True)
    return result


def _write_midi(score, name: str, fix, tmp: Path) -> str:
    """Write ``fix(score)`` to ``tmp``; how its notes differ from the score's ("" when they don't)."""
    fixed = fix(score)
    if EXPANDS_REPEATS[name]:
        fixed = played_out(fixed)  # the writer would expand; done here, the mending and the check see it
        want = score_notes(fixed)
    else:
        want = score_notes(score)
    _make_playable(fixed)
    fixed.write("midi", fp=str(tmp))
    return difference(want, midi_notes(tmp))


def _temp_beside(path: Path) -> Path:
    """A fresh temporary file in ``path``'s folder (same filesystem, so the rename is atomic)."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.mid")
    except OSError as exc:
        raise MusicError(f"cannot write to {path.parent}: {exc.strerror or exc}; choose another folder") from None
    os.close(fd)
    umask = os.umask(0)  # mkstemp makes the file private; the MIDI file gets the usual permissions
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)
    return Path(name)


def ensure_out_dir(out_dir: Path) -> Path:
    """Create the output folder or say clearly why it cannot be."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise MusicError(f"cannot write to {out_dir}: a file is in the way; choose another --out") from None
    except OSError as exc:
        raise MusicError(f"cannot create {out_dir}: {exc.strerror or exc}; choose another --out") from None
    if not os.access(out_dir, os.W_OK):
        raise MusicError(f"{out_dir} is not writable; choose another --out")
    return out_dir


def slug(text: str, limit: int = 40) -> str:
    """``"The Boys of Ballisodare"`` -> ``"the-boys-of-ballisodare"`` (safe in any file name)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:limit].strip("-")


def export_abc_file(path: Path, out_dir: Path) -> list[ExportResult]:
    """One MIDI file per tune of an ABC file: ``<file>-<nnnn>-<title>.mid`` in ``out_dir``.

    ``nnnn`` is the tune's position in the file (X: numbers repeat in real files). Tunes are
    cleaned first (``clean_tune``), which also rewrites notations music21 would misread.
    """
    path = Path(path)
    tunes = split_tunes(read_abc_text(path))
    if not tunes:
        raise MusicError(f"{path} has no tunes (ABC tunes start with an X: line)")
    out_dir = ensure_out_dir(out_dir)
    results = []
    for n, raw in enumerate(tunes, 1):
        title = (re.findall(r"(?m)^T:[ \t]*(.*)$", raw) or [""])[0].strip()
        name = f"{path.stem}-{n:04d}{'-' + slug(title) if slug(title) else ''}.mid"
        tune = clean_tune(raw)
        if tune is None:
            result = ExportResult(None, "failed", error="no K: field or no notes")
        else:
            result = tune_to_midi(tune, out_dir / name)
        result.title = title
        results.append(result)
    return results


def render_wav(midi_path: Path, wav_path: Path) -> Path:
    """Render MIDI to audio with fluidsynth and a General MIDI soundfont."""
    synth = shutil.which("fluidsynth")
    font = next((f for f in SOUNDFONTS if Path(f).is_file()), None)
    if not synth or not font:
        raise MusicError("audio needs fluidsynth and a General MIDI soundfont: "
                         "apt-get install fluidsynth fluid-soundfont-gm (or brew install fluid-synth)")
    done = subprocess.run([synth, "-ni", "-F", str(wav_path), "-r", "44100", font, str(midi_path)],
                          capture_output=True, text=True)
    if done.returncode != 0 or not Path(wav_path).is_file():
        raise MusicError(f"fluidsynth could not render {midi_path}: {done.stderr.strip()[:200]}")
    return Path(wav_path)


def render_sheet(score, out_path: Path) -> Path:
    """Sheet music: a PNG through lilypond when installed, else MusicXML (no tool needed).

    ``score`` is a music21 score or ABC text. Returns the path actually written.
    """
    if isinstance(score, str):
        text, score = score, parse_abc(score)
        if score is None:
            raise MusicError(f"cannot draw sheet music: music21 cannot parse the tune starting {text[:40]!r}")
    out_path = Path(out_path)
    if shutil.which("lilypond"):
        try:
            return _engrave(score, out_path.with_suffix(""))
        except Exception:
            pass  # music21's lilypond output is fragile; MusicXML still gives readable sheet music
    try:
        return Path(score.write("musicxml", fp=str(out_path.with_suffix(".musicxml"))))
    except OSError as exc:
        raise MusicError(f"cannot write {out_path}: {exc.strerror or exc}") from None


def _engrave(score, stem: Path) -> Path:
    """Sheet music through lilypond: ``stem``.pdf and a PNG of its page beside it."""
    source = stem.with_name(stem.name + ".ly")
    score.write("lily", fp=str(source))
    # music21 writes for lilypond-book, whose preamble puts the title and each line of music on
    # pages of their own; without it the tune is laid out on ordinary pages.
    text = source.read_text(encoding="utf-8").replace('\\include "lilypond-book-preamble.ly"', "")
    source.write_text(text, encoding="utf-8")
    try:
        done = subprocess.run(["lilypond", "--pdf", "--png", "-dresolution=120", "-o", str(stem), str(source)],
                              capture_output=True, text=True, timeout=300)
    finally:
        source.unlink(missing_ok=True)
    pdf = stem.with_name(stem.name + ".pdf")
    if done.returncode != 0 or not pdf.is_file():
        raise MusicError(f"lilypond could not engrave {stem.name}: {done.stderr.strip()[-200:]}")
    return pdf
