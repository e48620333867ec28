"""ABC -> MIDI that does not fail, plus optional audio (fluidsynth) and sheet music (lilypond).

music21's MIDI writer plays repeats out (``expandRepeats``) and raises on some tunes that it
parses fine: a time signature object shared by two bars (a meter that comes back after a change)
and repeat signs it cannot pair up. Each fallback below keeps every note; the one that worked is
recorded in ``ExportResult.method``:

    plain                         music21 as is: repeats played out
    no-duplicate-time-signatures  each bar its own time signature object: repeats played out
    repeats-unexpanded            repeat signs become plain bar lines: every written note, once
    flat-notes                    notes, rests and tempo marks in one stream, no bars: once
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
EXPANDS_REPEATS = {"plain": True, "no-duplicate-time-signatures": True, "repeats-unexpanded": False,
                   "flat-notes": False}


@dataclass
class ExportResult:
    """One tune's export: ``path`` is None when music21 cannot parse it (``method == "failed"``)."""

    path: Path | None
    method: str  # "plain", the fallback that worked, or "failed"
    title: str = ""
    error: str = ""  # why it failed, for "failed"

    @property
    def expands_repeats(self) -> bool:
        """Whether the MIDI file plays repeated sections twice (as music21's plain writer does)."""
        return EXPANDS_REPEATS.get(self.method, False)


def _plain(score):
    return score


def _without_duplicate_time_signatures(score):
    """music21's ABC reader can put one TimeSignature object in two bars (a meter that returns
    after a change); the MIDI writer then refuses it. Give each bar its own copy."""
    from music21 import meter

    score = copy.deepcopy(score)
    seen: set[int] = set()
    for ts in list(score.recurse().getElementsByClass(meter.TimeSignature)):
        if id(ts) in seen:
            ts.activeSite.replace(ts, copy.deepcopy(ts))
        seen.add(id(ts))
    return score


def _without_repeats(score):
    """Plain barlines instead of repeat signs: the written notes, played once."""
    from music21 import bar, repeat, spanner, stream

    score = _without_duplicate_time_signatures(score)
    for m in score.recurse().getElementsByClass(stream.Measure):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, bar.Barline("regular"))
    # First/second-ending brackets and D.C./segno marks would make the writer expand again.
    for el in list(score.recurse().getElementsByClass((spanner.RepeatBracket, repeat.RepeatExpression))):
        el.activeSite.remove(el)
    return score


def _flat_notes(score):
    """Last resort: every note, rest, chord and tempo mark at its offset, in one flat stream."""
    from music21 import note, stream, tempo

    flat = stream.Stream()
    for el in score.flatten().getElementsByClass((note.GeneralNote, tempo.MetronomeMark)):
        flat.insert(el.offset, copy.deepcopy(el))
    return flat


FALLBACKS = (("plain", _plain), ("no-duplicate-time-signatures", _without_duplicate_time_signatures),
             ("repeats-unexpanded", _without_repeats), ("flat-notes", _flat_notes))


def tune_to_midi(tune, path: Path) -> ExportResult:
    """Write one tune (ABC text or a parsed music21 score) to ``path``, trying each fallback in turn.

    The file appears only complete (written beside it, then renamed). ``MusicError`` when
    ``path``'s folder cannot be written; a tune music21 cannot parse gives ``method="failed"``.
    """
    score = parse_abc(tune) if isinstance(tune, str) else tune
    if score is None:
        return ExportResult(None, "failed", error="music21 cannot parse it")
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        for name, fix in FALLBACKS:
            try:
                fix(score).write("midi", fp=str(tmp))
            except OSError as exc:
                raise MusicError(f"cannot write {path}: {exc.strerror or exc}") from None
            except Exception:  # music21's writer raises many kinds on odd scores: try the next one
                continue
            os.replace(tmp, path)
            return ExportResult(path, name)
    finally:
        tmp.unlink(missing_ok=True)
    return ExportResult(None, "failed", error="music21 could not write MIDI even from the bare notes")


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


def note_events(stream_or_path, expand_repeats: bool = False) -> list[tuple[int, float]]:
    """(MIDI pitch, quarter length) of each sounding note, tied notes merged, grace notes left out.

    For comparing a score with the MIDI file written from it (``converter.parse(midi_path)``);
    MIDI durations are quantised to 1/12 of a quarter, so compare with a tolerance.
    """
    from music21 import converter

    s = converter.parse(str(stream_or_path)) if isinstance(stream_or_path, (str, Path)) else stream_or_path
    if expand_repeats:
        s = s.expandRepeats()
    events = []
    for n in s.stripTies().flatten().notes:
        if n.duration.isGrace or n.duration.quarterLength == 0:
            continue
        events.extend((p.midi, float(n.duration.quarterLength)) for p in n.pitches)
    return events


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
