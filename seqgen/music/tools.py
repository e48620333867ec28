"""The external programs seqgen uses when they are installed: fluidsynth (audio) and lilypond
(sheet music), and the General MIDI soundfont fluidsynth plays with.

Every lookup and every run of them goes through ``find``, ``find_soundfont`` and ``run``: one
boundary, which tests stand in for, so that no test depends on what a machine has installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ..errors import MusicError

# Where Debian, Fedora, Arch and Homebrew put a General MIDI soundfont.
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
              "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2",
              "/usr/share/sounds/sf2/TimGM6mb.sf2", "/usr/share/soundfonts/FluidR3_GM2-2.sf2",
              "/opt/homebrew/share/soundfonts/default.sf2", "/usr/local/share/soundfonts/default.sf2")
INSTALL_HINTS = {
    "fluidsynth": "apt-get install fluidsynth fluid-soundfont-gm (or brew install fluid-synth)",
    "lilypond": "apt-get install lilypond (or brew install lilypond)",
    "soundfont": "apt-get install fluid-soundfont-gm (or give a General MIDI .sf2 file)",
}


def find(name: str) -> str | None:
    """The path of program ``name`` on PATH, or None when it is not installed."""
    return shutil.which(name)


def find_soundfont(candidates: tuple[str, ...] | None = None) -> Path | None:
    """The first General MIDI soundfont installed in one of the usual places, or None."""
    return next((Path(f) for f in (candidates or SOUNDFONTS) if Path(f).is_file()), None)


def run(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a program to completion; MusicError when it cannot be started or takes too long.

    Its exit status is the caller's to judge (``returncode``, with ``stderr`` to quote).
    """
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MusicError(f"{Path(args[0]).name} took longer than {timeout:g} s and was stopped") from None
    except OSError as exc:
        raise MusicError(f"cannot run {args[0]}: {exc.strerror or exc}") from None
