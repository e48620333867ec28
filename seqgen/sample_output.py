"""What ``seqgen sample`` prints, and ``Model.generate_to_file`` writes: the samples laid out
one after another, each with a heading when there are several.

    --- temperature 0.5 ---     before each temperature's samples, for a list of temperatures
    === sample 1 ===            before each sample, for several samples
    ROMEO: the text of the sample, the prime included
                                a blank line before every heading but the first
    === sample 2 ===
    ...

One sample at one temperature is its text alone, then a newline. A list of temperatures draws
the same seed at each (``SampleConfig.at_each_temperature``), so that only the temperature differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .atomic import atomic_path, check_replaceable
from .errors import SeqgenError


def temperature_heading(temperature: float, first: bool = True) -> str:
    """The line before a temperature's samples (after a blank line unless ``first``)."""
    return f"{'' if first else chr(10)}--- temperature {temperature_label(temperature)} ---\n"


def sample_heading(index: int) -> str:
    """The line before sample ``index`` (from 0) of several (after a blank line unless the first)."""
    return f"{'' if index == 0 else chr(10)}=== sample {index + 1} ===\n"


def temperature_label(temperature: float) -> str:
    """A temperature as headings and folder names give it: 0.5, 1.0, 1e-05 (exact: two
    temperatures never share a label)."""
    return repr(float(temperature))


def at_each_temperature(model, settings: dict) -> Iterator[tuple[str, dict]]:
    """(heading, settings) for each temperature of ``settings`` (``SampleConfig``'s, by name, as
    checked already): for a list, its heading and the settings with one temperature and the seed
    they share; for one temperature, no heading and the settings as they are."""
    cfg = model.sample_config(streaming=True, **settings)  # the seed and temperatures, read as they were checked
    several = len(cfg.temperatures) > 1
    for i, each in enumerate(cfg.at_each_temperature()):
        heading = temperature_heading(each.temperature, i == 0) if several else ""
        yield heading, {**settings, "temperature": each.temperature, "seed": each.seed} if several else settings


def printed(model, settings: dict) -> Iterator[str]:
    """The text ``seqgen sample`` prints for ``settings`` (``SampleConfig``'s, by name), piece by
    piece: one sample streams as it is drawn, several are drawn side by side and come whole."""
    given = dict(settings)
    count = given.pop("num_samples", 1)
    model.sample_config(num_samples=count, streaming=count == 1, **given)  # every setting checked first
    for heading, one in at_each_temperature(model, given):
        yield heading
        if count == 1:
            yield from model.stream(**one)
            yield "\n"
            continue
        for k, text in enumerate(model.generate_many(count, **one)):
            yield sample_heading(k) + text + "\n"


def refuse_taken(paths: list[Path], overwrite: bool, choose: str = "another --out",
                 replace: str = "pass --overwrite") -> None:
    """SeqgenError when a file of ``paths`` exists and ``overwrite`` is not given (naming how to
    choose another and how to replace it), or is not a regular file, or its folder is missing."""
    taken = [p for p in paths if p.exists() or p.is_symlink()]
    for path in taken:  # before suggesting to replace it: never a device, FIFO or link
        check_replaceable(path)
    if taken and not overwrite:
        raise SeqgenError(f"{taken[0]} exists; choose {choose} or {replace} to replace it")
    for path in paths:
        if path.parent != Path("") and not path.parent.is_dir():
            raise SeqgenError(f"cannot write {path}: folder {path.parent} does not exist")


def write_new(path: Path, pieces: Iterable[str], overwrite: bool = False) -> Path:
    """``pieces`` written to ``path`` (UTF-8) as they come, atomically: the file appears whole, or
    (a failure, an interrupt) not at all. An existing file is refused unless ``overwrite``."""
    refuse_taken([path], overwrite, "another path", "pass overwrite=True")
    try:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            for piece in pieces:
                fh.write(piece)
    except OSError as exc:
        raise SeqgenError(f"cannot write {path}: {exc.strerror or exc}; choose another path") from None
    return path
