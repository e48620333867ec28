"""ABC -> MIDI that does not fail and keeps every note.

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

Given the tune's ABC text, what is played is what a musician would play (``playback.playable``):
ill-formed repeat signs repaired first, the tempo from ``Q:`` or the tune's kind
(``ExportResult.repeat_notes`` and ``tempo`` say what was read how).
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..atomic import atomic_path
from ..errors import MusicError
from .abc import clean_tune, read_abc_text, split_tunes, tune_title
from .meters import tune_meter_problem
from .m21 import describe, music21_failure
from .notes import difference, is_tied_on, midi_notes, note_sounds, played_out, score_notes, score_parts
from .playback import playable
from .tempo import Tempo, drop_repeated_tempi, set_score_tempo

EXPANDS_REPEATS = {"plain": True, "repeats-unexpanded": False, "flat-notes": False}


@dataclass
class ExportResult:
    """One tune's export: ``path`` is None when music21 cannot parse it (``method == "failed"``)."""

    path: Path | None
    method: str  # "plain", the fallback that worked, "failed", or "refused" (a meter or note length no tune has)
    title: str = ""
    error: str = ""  # why it failed, for "failed"
    mismatch: str = ""  # how the file's notes differ from the score's when no fallback got them right
    passed_over: list[str] = field(default_factory=list)  # "way: why" for each way that did not work
    repeat_notes: list[str] = field(default_factory=list)  # which repeat signs were read how, one line each
    tempo: Tempo | None = None  # the tempo written; None: the one music21 read

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


def tune_to_midi(tune, path: Path, abc: str | None = None) -> ExportResult:
    """Write one tune (ABC text, or a music21 score parsed from the text ``abc`` when given) to
    ``path``, trying each fallback in turn until one writes a file that holds the score's notes.
    With the text, repeats and tempo are as a musician reads them (see the module docstring).

    The file appears only complete (written beside it, then renamed). ``MusicError`` when
    ``path``'s folder cannot be written; a tune music21 cannot parse gives ``method="failed"``.
    Should no fallback get the notes right, the last file written stays, and ``mismatch`` says
    how it differs. ``passed_over`` says why each earlier way was not taken.
    """
    problem = tune_meter_problem(tune) if isinstance(tune, str) else None
    if problem:  # refused before music21 spends minutes on it
        return ExportResult(None, "refused", error=problem)
    played = playable(tune, abc)
    score = played.score
    if score is None:
        return ExportResult(None, "failed", error="music21 cannot parse it")
    if played.tempo is not None:  # before the repeats are played out: each repeat takes it along
        score = copy.deepcopy(score) if score is tune else score  # the caller's score keeps its marks
        set_score_tempo(score, played.tempo)
    path = Path(path)
    passed_over: list[str] = []
    result = ExportResult(None, "failed", error="music21 could not write MIDI even from the bare notes")
    for name, fix in FALLBACKS:
        try:
            with atomic_path(path) as tmp:
                mismatch = _write_midi(score, name, fix, tmp)
        except OSError as exc:
            raise MusicError(f"cannot write {path}: {exc.strerror or exc}; choose another folder") from None
        except Exception as exc:  # music21's writer fails on some scores: try the next way
            if not music21_failure(exc):
                raise
            passed_over.append(f"{name}: {describe(exc)}")
            continue
        result = ExportResult(path, name, mismatch=mismatch)
        if not mismatch:
            break
        passed_over.append(f"{name}: {mismatch}")
    result.passed_over, result.tempo, result.repeat_notes = passed_over, played.tempo, played.notes
    if result.path is not None and not result.expands_repeats and (played.repeats or _has_repeats(score)):
        result.repeat_notes = [*played.notes, f"music21 could not play the repeats out ({passed_over[0]}): "
                                              "each written bar is played once"]
    return result


def _has_repeats(score) -> bool:
    from music21 import bar, spanner

    return any(isinstance(b, bar.Repeat) for b in score.recurse().getElementsByClass(bar.Barline)) or bool(
        score.recurse().getElementsByClass(spanner.RepeatBracket))


def _write_midi(score, name: str, fix, tmp: Path) -> str:
    """Write ``fix(score)`` to ``tmp``; how its notes differ from the score's ("" when they don't)."""
    fixed = fix(score)
    if EXPANDS_REPEATS[name]:
        fixed = played_out(fixed)  # the writer would expand; done here, the mending and the check see it
        want = score_notes(fixed)
    else:
        want = score_notes(score)
    _make_playable(fixed)
    drop_repeated_tempi(fixed)  # the start's tempo mark, copied to where a repeat goes back to
    fixed.write("midi", fp=str(tmp))
    return difference(want, midi_notes(tmp))


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


def export_names(path: Path, prefix: str | None = None) -> list[tuple[str, str]]:
    """(raw tune, MIDI file name) for each tune of an ABC file: ``<prefix>-<nnnn>-<title>.mid``.

    ``prefix`` is the file's name without its suffix unless given; ``nnnn`` is the tune's
    position in the file (X: numbers repeat in real files).
    """
    path = Path(path)
    tunes = split_tunes(read_abc_text(path))
    if not tunes:
        raise MusicError(f"{path} has no tunes (ABC tunes start with an X: line)")
    named = []
    for n, raw in enumerate(tunes, 1):
        title = slug(tune_title(raw))
        named.append((raw, f"{prefix or path.stem}-{n:04d}{'-' + title if title else ''}.mid"))
    return named


def export_abc_file(path: Path, out_dir: Path, prefix: str | None = None) -> list[ExportResult]:
    """One MIDI file per tune of an ABC file, named by ``export_names``, in ``out_dir``.

    Tunes are cleaned first (``clean_tune``), which also rewrites notations music21 would misread.
    """
    out_dir = ensure_out_dir(out_dir)
    results = []
    for raw, name in export_names(path, prefix):
        tune = clean_tune(raw)
        if tune is None:
            result = ExportResult(None, "failed", error="no K: field or no notes")
        else:
            result = tune_to_midi(tune, out_dir / name)
        result.title = tune_title(raw)
        results.append(result)
    return results


def export_named(item: tuple[Path, str], out_dir: Path) -> list[ExportResult]:
    """``export_abc_file`` of a (file, name prefix) pair: the form worker processes take."""
    path, prefix = item
    return export_abc_file(path, out_dir, prefix)
