"""ABC -> MIDI that does not fail, plus optional audio (fluidsynth) and sheet music (lilypond).

music21's MIDI writer raises on some tunes that it parses fine (duplicate time signatures, badly
formed repeats). Each fallback below keeps every note; the one that worked is recorded.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import MusicError
from .abc import split_tunes
from .validate import parse_abc

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")


@dataclass
class ExportResult:
    path: Path | None
    method: str  # "plain", or the fallback that worked; "failed" when music21 cannot parse the tune
    title: str = ""


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
    from music21 import bar, spanner, stream

    score = copy.deepcopy(score)
    for m in score.recurse().getElementsByClass(stream.Measure):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(m, side), bar.Repeat):
                setattr(m, side, bar.Barline("regular"))
    for sp in list(score.recurse().getElementsByClass(spanner.RepeatBracket)):
        sp.activeSite.remove(sp)
    return _without_duplicate_time_signatures(score)


def _flat_notes(score):
    """Last resort: every note, rest and chord in order, in one flat stream."""
    from music21 import stream

    flat = stream.Stream()
    for el in score.flatten().notesAndRests:
        flat.insert(el.offset, copy.deepcopy(el))
    return flat


FALLBACKS = (("plain", _plain), ("no-duplicate-time-signatures", _without_duplicate_time_signatures),
             ("repeats-unexpanded", _without_repeats), ("flat-notes", _flat_notes))


def tune_to_midi(tune, path: Path) -> ExportResult:
    """Write one tune (ABC text or a parsed score) to ``path``; try each fallback in turn."""
    score = parse_abc(tune) if isinstance(tune, str) else tune
    if score is None:
        return ExportResult(None, "failed")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.mid")
    for name, fix in FALLBACKS:
        try:
            fix(score).write("midi", fp=str(tmp))
        except Exception:  # music21's MIDI writer raises many kinds; try the next fallback
            continue
        os.replace(tmp, path)
        return ExportResult(path, name)
    tmp.unlink(missing_ok=True)
    return ExportResult(None, "failed")


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


def export_abc_file(path: Path, out_dir: Path) -> list[ExportResult]:
    """One MIDI file per tune of an ABC file: ``<file>-<n>-<title>.mid`` in ``out_dir``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MusicError(f"cannot read {path}: {exc.strerror or exc}") from None
    tunes = split_tunes(text)
    if not tunes:
        raise MusicError(f"{path} has no tunes (ABC tunes start with an X: line)")
    out_dir = ensure_out_dir(out_dir)
    results = []
    for n, tune in enumerate(tunes, 1):
        title = (re.findall(r"(?m)^T:\s*(.*)$", tune) or [""])[0].strip()
        slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40]
        name = f"{path.stem}-{n:04d}{'-' + slug if slug else ''}.mid"
        result = tune_to_midi(tune, out_dir / name)
        result.title = title
        results.append(result)
    return results


def render_wav(midi_path: Path, wav_path: Path) -> Path:
    """Render MIDI to audio with fluidsynth and a General MIDI soundfont."""
    synth = shutil.which("fluidsynth")
    font = next((f for f in SOUNDFONTS if Path(f).is_file()), None)
    if not synth or not font:
        raise MusicError("audio needs fluidsynth and a General MIDI soundfont: apt-get install fluidsynth fluid-soundfont-gm")
    done = subprocess.run([synth, "-ni", "-F", str(wav_path), "-r", "44100", font, str(midi_path)],
                          capture_output=True, text=True)
    if done.returncode != 0 or not Path(wav_path).is_file():
        raise MusicError(f"fluidsynth could not render {midi_path}: {done.stderr.strip()[:200]}")
    return Path(wav_path)


def render_sheet(score, out_path: Path) -> Path:
    """Sheet music: a PNG through lilypond when installed, else MusicXML (no tool needed)."""
    out_path = Path(out_path)
    if shutil.which("lilypond"):
        try:
            return Path(score.write("lily.png", fp=str(out_path.with_suffix(""))))
        except Exception:
            pass  # music21's lilypond bridge is fragile; MusicXML still gives readable sheet music
    return Path(score.write("musicxml", fp=str(out_path.with_suffix(".musicxml"))))
