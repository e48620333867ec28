"""A batch of tunes as files in a folder: the one writer behind ``seqgen sample --tunes``, the
studio and ``TuneBatch.write``.

    001.abc  001.mid  [001.wav]  [001.png, 001.pdf or 001.musicxml]    a tune, numbered as it comes
    004-invalid.abc  004-invalid.mid                                      one that failed its check

A checked tune's MIDI file is written from the score its check parsed (no second parse); an
unchecked one's (the studio's) is made from its .abc when first asked for.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..atomic import check_replaceable, write_text
from ..errors import MusicError, SeqgenError, UsageError, warn

# Files a batch is made of: 001.abc, 001-invalid.mid, 002.png, ...
TUNE_FILE = re.compile(r"^\d{3}(-invalid)?\.(abc|mid|wav|pdf|png|musicxml)$")


def prepare_folder(out_dir: Path, overwrite: bool) -> Path:
    """``out_dir``, made if need be and holding no earlier batch of tunes: a new batch is never
    mixed with one. An earlier batch is refused, or removed with ``overwrite``."""
    from .export import ensure_out_dir

    out_dir = ensure_out_dir(out_dir)
    earlier = sorted(p for p in out_dir.iterdir() if TUNE_FILE.match(p.name))
    for path in earlier:  # before suggesting --overwrite: it never replaces a device, FIFO or link
        check_replaceable(path)
    if earlier and not overwrite:
        raise SeqgenError(f"{out_dir} already holds tunes of an earlier batch ({earlier[0].name}, ...); "
                          "choose another --out or pass --overwrite to replace them")
    for path in earlier:
        path.unlink()
    return out_dir


class TuneFolder:
    """Tunes into ``folder``, numbered in the order they come (see the module docstring), with
    audio (``wav``) and sheet music (``sheet``) beside their MIDI files. ``notes``: what could
    not be made -> the files written instead."""

    def __init__(self, folder: Path, wav: bool = False, sheet: bool = False):
        self.folder, self.wav, self.sheet = Path(folder), wav, sheet
        self.written = self.invalid = 0
        self.notes: dict[str, list[str]] = {}

    def write(self, text: str, check=None) -> Path:
        """One tune: its .abc, and with a ``check`` (``validate.TuneCheck``) that parsed it, its
        .mid and what else was asked for. Returns the .abc file."""
        from .export import tune_to_midi

        valid = check is None or check.valid
        stem = self.folder / f"{self.written + 1:03d}{'' if valid else '-invalid'}"
        abc = write_text(stem.with_suffix(".abc"), text if text.endswith("\n") else text + "\n")
        self.written += 1
        self.invalid += not valid
        if check is None or check.score is None:
            return abc
        midi = tune_to_midi(check.score, stem.with_suffix(".mid"), abc=text)
        if midi.path is not None:
            self._render(midi.path, check.score, stem)
        return abc

    def write_batch(self, batch, keep_invalid: bool = False) -> list[Path]:
        """The tunes of ``batch`` (a ``tunes.TuneBatch``) not written yet, the valid ones first,
        then (``keep_invalid``) the others; every file of the folder's batch."""
        for text, check in (batch.valid + (batch.invalid if keep_invalid else []))[self.written:]:
            self.write(text, check)
        return sorted(p for p in self.folder.iterdir() if TUNE_FILE.match(p.name))

    def note_lines(self) -> list[str]:
        """What could not be made, one line each, with what was written instead."""
        return [why + (f"; wrote {', '.join(written)} instead" if written else "") for why, written in self.notes.items()]

    def _render(self, midi: Path, score, stem: Path) -> None:
        from .render import render_sheet, render_wav

        if self.wav:
            try:
                render_wav(midi, stem.with_suffix(".wav"))
            except MusicError as exc:
                self.notes.setdefault(str(exc), [])
        if self.sheet:
            drawn = render_sheet(score, stem.with_suffix(".png"))
            if drawn.fallback:
                self.notes.setdefault(drawn.fallback, []).append(drawn.path.name)


def midi_of(stem: Path) -> Path:
    """The .mid of the tune in ``stem``.abc, made now unless it was; MusicError when music21
    cannot write it."""
    from .export import tune_to_midi

    path = stem.with_suffix(".mid")
    if not path.is_file():
        done = tune_to_midi(stem.with_suffix(".abc").read_text(encoding="utf-8"), path)
        if done.path is None:
            raise MusicError(f"no MIDI file for this tune: {done.error}")
    return path


def wav_of(stem: Path, soundfont: Path | None = None) -> Path:
    """The .wav of the tune in ``stem``.abc (played from its .mid), made now unless it was."""
    from .render import render_wav

    path = stem.with_suffix(".wav")
    if not path.is_file():
        render_wav(midi_of(stem), path, soundfont)
    return path


def write_batch(batch, folder: str | os.PathLike, keep_invalid: bool = False, wav: bool = False, *,
                overwrite: bool = False, sheet: bool = False) -> list[Path]:
    """``TuneBatch.write``: the tunes of ``batch`` into a fresh batch in ``folder``; its files.
    What could not be made (audio without a soundfont, sheet music without lilypond) is a warning."""
    from ..config import typed

    if not isinstance(folder, (str, os.PathLike)):
        raise UsageError(f"folder must be a folder path (str or pathlib.Path) (got {type(folder).__name__} "
                         f"{folder!r:.40})")
    for name, value in (("keep_invalid", keep_invalid), ("wav", wav), ("overwrite", overwrite), ("sheet", sheet)):
        typed(name, value, "bool")
    writer = TuneFolder(prepare_folder(Path(folder), overwrite), wav, sheet)
    files = writer.write_batch(batch, keep_invalid)
    for line in writer.note_lines():
        warn(line)
    return files
