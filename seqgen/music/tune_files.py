"""A batch of tunes as files in a folder: the one writer behind ``seqgen sample --tunes``, the
studio and ``TuneBatch.write``.

    001.abc  001.mid  [001.wav]  [001.png, 001.pdf or 001.musicxml]    a tune, numbered as it comes
    004-invalid.abc  004-invalid.mid                                      one that failed its check

A checked tune's MIDI file is written from the score its check parsed (no second parse); an
unchecked one's is made from its .abc when first asked for.

A folder that already holds a batch is never mixed with another: the same batch drawn again into
it (the same command run twice, or the command the studio shows for one of its batches) is
compared file by file (``DrawnAgain``) and leaves it as it was; another batch is refused, or
replaces it with ``overwrite``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
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
    earlier = earlier_tunes(out_dir)
    for path in earlier:  # before suggesting --overwrite: it never replaces a device, FIFO or link
        check_replaceable(path)
    if earlier and not overwrite:
        raise SeqgenError(f"{out_dir} already holds tunes of an earlier batch ({earlier[0].name}, ...); "
                          "choose another --out or pass --overwrite to replace them")
    for path in earlier:
        path.unlink()
    return out_dir


def earlier_tunes(out_dir: Path) -> list[Path]:
    """The files of the batch ``out_dir`` holds: none when it is not a folder."""
    if not Path(out_dir).is_dir():
        return []
    return sorted(p for p in Path(out_dir).iterdir() if TUNE_FILE.match(p.name))


class TuneFolder:
    """Tunes into ``folder``, numbered in the order they come (see the module docstring), with
    audio (``wav``) and sheet music (``sheet``) beside their MIDI files. ``notes``: what could
    not be made -> the files written instead."""

    def __init__(self, folder: Path, wav: bool = False, sheet: bool = False):
        self.folder, self.wav, self.sheet = Path(folder), wav, sheet
        self.written = self.invalid = 0
        self.notes: dict[str, list[str]] = {}

    def write(self, text: str, check=None, files: bool = True) -> Path:
        """One tune: its .abc, and with a ``check`` (``validate.TuneCheck``) that parsed it, its
        .mid and what else was asked for (``files``; else ``write_files`` writes them later).
        Returns the .abc file."""
        valid = check is None or check.valid
        stem = self.folder / f"{self.written + 1:03d}{'' if valid else '-invalid'}"
        abc = write_text(stem.with_suffix(".abc"), text if text.endswith("\n") else text + "\n")
        self.written += 1
        self.invalid += not valid
        if files:
            self.write_files(abc, check, text)
        return abc

    def write_files(self, abc: Path, check=None, text: str | None = None) -> None:
        """The .mid of the tune ``text`` written to ``abc``, from the score its ``check`` parsed,
        and what else was asked for; nothing without a score."""
        from .export import tune_to_midi

        if check is None or check.score is None:
            return
        stem = abc.with_suffix("")
        midi = tune_to_midi(check.score, stem.with_suffix(".mid"), abc=text)
        if midi.path is not None:
            self._render(midi.path, check.score, stem)

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


class DrawnAgain(TuneFolder):
    """A batch drawn into ``target``, which already holds one: written to a scratch folder inside
    it, and each tune's files compared with the target's as they come. The first that differs
    (or is missing there) ends the drawing: ``SeqgenError``, another batch is there, which is left
    as it was. ``settle`` then checks that the target holds no tune more, and adds the files it
    lacked (a .mid not made yet); ``discard`` removes the scratch folder."""

    def __init__(self, target: Path, wav: bool = False, sheet: bool = False):
        self.target = Path(target)
        super().__init__(Path(tempfile.mkdtemp(dir=self.target, prefix=".seqgen-again-")), wav, sheet)

    def write(self, text: str, check=None) -> Path:
        abc = super().write(text, check)
        for made in sorted(self.folder.glob(abc.stem + ".*")):
            there = self.target / made.name
            if (made.suffix == ".abc" or os.path.lexists(there)) and not _same_file(made, there):
                raise self._another(made.name)
        return abc

    def settle(self) -> list[str]:
        """The names of the files added to the target, once it is sure it holds this batch."""
        ours = {p.name for p in self.folder.glob("*.abc")}
        theirs = {p.name for p in earlier_tunes(self.target) if p.suffix == ".abc"}
        if ours != theirs:
            raise self._another(min(ours ^ theirs))
        added = sorted(p.name for p in self.folder.iterdir() if not os.path.lexists(self.target / p.name))
        for name in added:
            os.replace(self.folder / name, self.target / name)
        return added

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _another(self, name: str) -> SeqgenError:
        return SeqgenError(f"{self.target} already holds tunes of an earlier batch ({name} is not this batch's); "
                           "choose another --out or pass --overwrite to replace them")


def _same_file(made: Path, there: Path) -> bool:
    """Whether ``there`` is a regular file (not a link) holding ``made``'s bytes."""
    import stat

    try:
        return stat.S_ISREG(os.lstat(there).st_mode) and there.read_bytes() == made.read_bytes()
    except OSError:
        return False


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
