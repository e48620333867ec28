"""Audio and sheet music of a tune, with the tools that are installed.

Audio: a General MIDI soundfont plays the MIDI file, through fluidsynth where it is installed
and through seqgen's own sampler (``synth.py``) where it is not; either way its peak is at
-1 dBFS (``level.py``). Sheet music: lilypond
engraves a PDF and a PNG when installed; MusicXML, which any notation program opens, when it is
not or when it fails, and then ``Rendered.fallback`` says what failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..atomic import atomic_path
from ..errors import MusicError
from . import tools
from .level import normalise_wav
from .m21 import describe, music21_failure, parse_abc


@dataclass
class Rendered:
    """A file written for a tune; ``fallback`` says why it is not the kind asked for ("" when it is)."""

    path: Path
    fallback: str = ""


def render_wav(midi_path: Path, wav_path: Path, soundfont: Path | None = None) -> Path:
    """Render MIDI to audio with a General MIDI soundfont (the one given, or one installed in the
    usual places): fluidsynth plays it where installed, seqgen's own sampler elsewhere.
    MusicError saying what to install when there is no soundfont."""
    font = soundfont or tools.find_soundfont()
    if not font:
        raise MusicError(f"audio needs a General MIDI soundfont: {tools.INSTALL_HINTS['soundfont']}")
    synth = tools.find("fluidsynth")
    if not synth:
        from .synth import render_midi

        return render_midi(Path(midi_path), Path(wav_path), Path(font))
    with atomic_path(wav_path) as tmp:
        # 32-bit samples: fluidsynth's default gain plays a tune near -25 dBFS, and raised to the
        # level every WAV gets (level.py), 16 bits would bring up their rounding noise with it
        done = tools.run([synth, "-ni", "-F", str(tmp), "-O", "s32", "-r", "44100", str(font), str(midi_path)])
        if done.returncode != 0 or not tmp.stat().st_size:
            raise MusicError(f"fluidsynth could not render {midi_path}: {done.stderr.strip()[:200]}")
        try:
            normalise_wav(tmp, tmp)
        except MusicError as exc:
            raise MusicError(f"fluidsynth could not render {midi_path}: {exc}") from None
    return Path(wav_path)


def render_sheet(score, out_path: Path) -> Rendered:
    """Sheet music: a PDF and a PNG through lilypond when installed, else MusicXML.

    ``score`` is a music21 score or ABC text; ``out_path`` names the files (its suffix is replaced).
    """
    if isinstance(score, str):
        text, score = score, parse_abc(score)
        if score is None:
            raise MusicError(f"cannot draw sheet music: music21 cannot parse the tune starting {text[:40]!r}")
    out_path = Path(out_path)
    xml = out_path.with_suffix(".musicxml")
    lilypond = tools.find("lilypond")
    if lilypond is None:
        why = f"lilypond is not installed ({tools.INSTALL_HINTS['lilypond']})"
    else:
        try:
            return Rendered(_engrave(score, out_path.with_suffix(""), lilypond))
        except MusicError as exc:
            why = f"lilypond failed: {exc}"
    try:
        with atomic_path(xml) as tmp:
            score.write("musicxml", fp=str(tmp))
        return Rendered(xml, why)
    except OSError as exc:
        raise MusicError(f"cannot write {xml}: {exc.strerror or exc}") from None


def _engrave(score, stem: Path, lilypond: str) -> Path:
    """Sheet music through lilypond: ``stem``.pdf and a PNG of its page beside it."""
    source = stem.with_name(stem.name + ".ly")
    try:
        # music21 writes the LilyPond source; it asks lilypond for its version first.
        score.write("lily", fp=str(source))
    except OSError as exc:
        raise MusicError(f"cannot write {source}: {exc.strerror or exc}") from None
    except Exception as exc:
        if not music21_failure(exc):
            raise
        source.unlink(missing_ok=True)
        raise MusicError(f"music21 could not write LilyPond input ({describe(exc)})") from None
    try:
        # music21 writes for lilypond-book, whose preamble puts the title and each line of music on
        # pages of their own; without it the tune is laid out on ordinary pages.
        text = source.read_text(encoding="utf-8").replace('\\include "lilypond-book-preamble.ly"', "")
        source.write_text(text, encoding="utf-8")
        done = tools.run([lilypond, "--pdf", "--png", "-dresolution=120", "-o", str(stem), str(source)])
    finally:
        source.unlink(missing_ok=True)
    pdf = stem.with_name(stem.name + ".pdf")
    if done.returncode != 0:
        raise MusicError(f"lilypond could not engrave {stem.name}: {done.stderr.strip()[-200:]}")
    if not pdf.is_file():
        raise MusicError(f"lilypond drew no page for {stem.name} (a tune without notes?)")
    return pdf
