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
from .validate import parse_abc

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2",
              "/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/soundfonts/FluidR3_GM2-2.sf2")
EXPANDS_REPEATS = {"plain": True, "repeats-unexpanded": False, "flat-notes": False}
TICKS = 10080  # a quarter note in MIDI ticks, as music21 writes them: times compare as integers
Note = tuple[int, int, int]  # (onset in ticks, MIDI pitch, length in ticks)


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
    for part in _parts(score):
        sounds = list(_sounds(part))
        starts = {(on, pitch) for on, _, pitch, _ in sounds}
        ahead = {id(n) for on, length, pitch, n in sounds if _tied_on(n) and (on + length, pitch) in starts}
        arrivals = {(on + length, pitch) for on, length, pitch, n in sounds if id(n) in ahead}
        for on, _, pitch, n in sounds:
            forward, back = id(n) in ahead, (on, pitch) in arrivals
            kind = "continue" if forward and back else "start" if forward else "stop" if back else None
            n.tie = tie.Tie(kind) if kind else None


def _streams(score) -> list:
    """``score`` and every stream in it: containers by name, since an object that sits in two of
    them has only one ``activeSite`` (or none)."""
    return [score, *score.recurse(streamsOnly=True, includeSelf=False)]


def played_out(score):
    """A new score with ``score``'s repeats played out (music21's ``expandRepeats``), each repeat
    going back to where ABC players take it back to.

    A ``:|`` with no ``|:`` goes back to just after the previous ``:|`` (past its first- and
    second-ending bars), or to the beginning when there is none. music21 always goes back to the
    beginning, which for O'Neill's many-part jigs (``A:| B:| C:| ...``) doubles the whole tune at
    each part: 2**10 times for "Morgan Rattler", minutes to write.
    """
    from music21 import bar, spanner, stream

    starts = []  # (part, measure) indices of the bars where a repeat starts unmarked
    for p, part in enumerate(_parts(score)):
        bars = list(part.getElementsByClass(stream.Measure))
        endings = {id(m) for b in part.spannerBundle.getByClass(spanner.RepeatBracket) for m in b}
        after_end, opened = None, False  # the bar after the last :|; whether a |: came since
        for i, m in enumerate(bars):
            opened = opened or (isinstance(m.leftBarline, bar.Repeat) and m.leftBarline.direction == "start")
            if isinstance(m.rightBarline, bar.Repeat) and m.rightBarline.direction == "end":
                if not opened and after_end is not None:
                    first = next((k for k in range(after_end, i + 1) if id(bars[k]) not in endings), None)
                    starts += [(p, first)] if first is not None else []
                after_end, opened = i + 1, False
    if starts:
        score = copy.deepcopy(score)
        parts = _parts(score)
        for p, i in starts:
            parts[p].getElementsByClass(stream.Measure)[i].leftBarline = bar.Repeat(direction="start")
    return score.expandRepeats()


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
    return _difference(want, midi_notes(tmp))


def _temp_beside(path: Path) -> Path:
    """A fresh temporary file in ``path``'s folder (same filesystem, so the rename is atomic)."""
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp.mid")
    except OSError as exc:
        raise MusicError(f"cannot write to {path.parent}: {exc.strerror or exc}; choose another folder") from None
    os.close(fd)
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


def _parts(score) -> list:
    from music21 import stream

    return list(score.getElementsByClass(stream.Part)) or [score]


def _tied_on(n) -> bool:
    return n.tie is not None and n.tie.type in ("start", "continue")


def _sounds(part):
    """(onset, length, MIDI pitch, note) for each pitch of each note of one part, by onset; times
    in ticks, zero-length (grace) notes left out. A tie joins a note to the note of the same pitch
    that starts where it ends, and to nothing else."""
    for n in part.flatten().notes:
        on, length = round(n.offset * TICKS), round(n.duration.quarterLength * TICKS)
        if length:
            yield from ((on, length, p.pitch.midi, p) for p in (n.notes if n.isChord else (n,)))


def score_notes(score, expand_repeats: bool = False) -> list[Note]:
    """The notes a MIDI file written from ``score`` should hold, by onset then pitch.

    Tied notes are one note (see ``_sounds``); grace notes are left out, as ``tune_to_midi``
    leaves them out.
    """
    if expand_repeats:
        score = played_out(score)
    notes: list[list[int]] = []
    for part in _parts(score):
        tied: dict[tuple[int, int], list[int]] = {}  # (tick, pitch) -> the note a tie carries there
        for on, length, pitch, n in _sounds(part):
            note = tied.pop((on, pitch), None)
            if note is None:
                note = [on, pitch, 0]
                notes.append(note)
            note[2] += length
            if _tied_on(n):
                tied[(on + length, pitch)] = note
    return sorted(tuple(note) for note in notes)


def midi_notes(path: Path) -> list[Note]:
    """The notes of a MIDI file, read event by event (no quantising), by onset then pitch.

    A note-on is closed by the next note-off of its pitch and channel; a note never closed
    gets length -1, so it can never pass for a note of the score.
    """
    from music21 import midi

    mf = midi.MidiFile()
    mf.open(str(path))
    try:
        mf.read()
    finally:
        mf.close()
    notes: list[list[int]] = []
    scale = TICKS / mf.ticksPerQuarterNote
    for track in mf.tracks:
        tick, sounding = 0, {}  # (channel, pitch) -> notes started and not yet stopped
        for event in track.events:
            if isinstance(event, midi.DeltaTime):
                tick += event.time
            elif event.isNoteOn():
                note = [round(tick * scale), event.pitch, -1]
                notes.append(note)
                sounding.setdefault((event.channel, event.pitch), []).append(note)
            elif event.isNoteOff() and sounding.get((event.channel, event.pitch)):
                note = sounding[(event.channel, event.pitch)].pop(0)
                note[2] = round(tick * scale) - note[0]
    return sorted(tuple(note) for note in notes)


def notes_differ(score, midi_path: Path, expand_repeats: bool) -> str:
    """How the MIDI file's notes differ from the score's (repeats played out or not), or "" when
    they are the same notes at the same times, to a tick or two."""
    return _difference(score_notes(score, expand_repeats), midi_notes(midi_path))


def _difference(want: list[Note], got: list[Note]) -> str:
    for i, (a, b) in enumerate(zip(want, got)):
        if a[1] != b[1] or abs(a[0] - b[0]) > 2 or abs(a[2] - b[2]) > 2:  # the writer rounds to ticks
            return f"note {i + 1}: score has {_show(a)}, MIDI has {_show(b)}"
    if len(want) != len(got):
        return f"score has {len(want)} notes, MIDI has {len(got)}"
    return ""


def _show(note: Note) -> str:
    return f"pitch {note[1]} at {note[0] / TICKS:g} for {note[2] / TICKS:g} quarters"


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
            return Path(score.write("lily.png", fp=str(out_path.with_suffix(""))))
        except Exception:
            pass  # music21's lilypond bridge is fragile; MusicXML still gives readable sheet music
    try:
        return Path(score.write("musicxml", fp=str(out_path.with_suffix(".musicxml"))))
    except OSError as exc:
        raise MusicError(f"cannot write {out_path}: {exc.strerror or exc}") from None
