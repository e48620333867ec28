"""What the tests share: real text, tiny configurations, the CLI runner and its checks, and
stand-ins for the external programs seqgen uses (at the Python boundary, never on PATH)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydoc_data.topics import topics
from typer.testing import CliRunner

from seqgen.cli import app
from seqgen.config import TrainConfig
from seqgen.models.rnn_config import ModelConfig
from seqgen.hardware.precision import runs_in

PROSE = "\n".join(topics[k] for k in sorted(topics))  # ~470k characters of Python documentation
# PROSE differs from one Python release to the next (3.11.2 and 3.11.7 already differ in its first
# 20,000 characters), so figures pinned on a text read a fixed one: the first 60,000 characters of
# PROSE as Python 3.11.7 has them (its pydoc_data, under the PSF licence), the text the pinned losses
# and the checkpoints in tests/data were made on. Read as stored: no newline is translated.
with open(Path(__file__).parent / "data" / "pydoc-topics-3.11.7.txt", encoding="utf-8", newline="") as _fh:
    FIXED_PROSE = _fh.read()
# A model that trains in a second or two through the CLI.
TINY = ["--hidden", "32", "--layers", "1", "--seq-len", "16", "--batch-size", "8", "--max-steps", "6",
        "--eval-every", "3"]
runner = CliRunner()


def seqgen_process(*args, timeout: float = 180, **options) -> subprocess.CompletedProcess:
    """The real command line in a process of its own (``python -m seqgen ARGS``), its output
    captured as text; ``options`` go to ``subprocess.run`` (cwd, env, ...)."""
    return subprocess.run([sys.executable, "-m", "seqgen", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **options)


def start_seqgen(*args, **options) -> subprocess.Popen:
    """``seqgen_process`` started, not waited for: stdout and stderr are pipes of text."""
    return subprocess.Popen([sys.executable, "-m", "seqgen", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **options)
# Tests of bf16 itself run where oneDNN runs a bf16 LSTM; CI's first pass caps the CPU so that it does not.
needs_bf16 = pytest.mark.skipif(not runs_in("bf16", "cpu"),
                                reason="oneDNN cannot run a bf16 LSTM on this CPU (no AVX512-BF16 or AMX)")


def tiny_model(**overrides) -> ModelConfig:
    return ModelConfig(**{"cell": "lstm", "layers": 1, "hidden": 64, "dropout": 0.0, **overrides})


def tiny_train(**overrides) -> TrainConfig:
    base = {"seq_len": 32, "batch_size": 16, "lr": 1e-2, "warmup_steps": 5, "max_steps": 40,
            "eval_every": 20, "eval_tokens": 5000, "seed": 7}
    return TrainConfig(**{**base, **overrides})


def fake_runs(monkeypatch, *able):
    """Pretend that exactly the precisions ``able`` (and fp32) run, on every device."""
    import seqgen.hardware.device
    import seqgen.hardware.precision

    for module in (seqgen.hardware.device, seqgen.hardware.precision):
        monkeypatch.setattr(module, "runs_in", lambda p, device_type: p == "fp32" or p in able)


def run(*args):
    """The real command line, in this process."""
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, code, *words):
    """Exit ``code`` with one line on stderr that starts with "error: " and holds ``words``."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output + result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@dataclass
class StandIns:
    """External programs as a test wants them: ``installed`` maps a program's name to its path,
    ``behaviour`` maps it to what a run does (args -> CompletedProcess); ``calls`` records runs."""

    installed: dict[str, str] = field(default_factory=dict)
    behaviour: dict = field(default_factory=dict)
    soundfont: Path | None = None
    lilypond_version: str = "GNU LilyPond 2.24.1 (running Guile 2.2)"
    calls: list[list[str]] = field(default_factory=list)

    def install(self, name: str, behaviour) -> None:
        self.installed[name] = f"/stand-in/bin/{name}"
        self.behaviour[name] = behaviour

    def run(self, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        self.calls.append([str(a) for a in args])
        return self.behaviour[Path(args[0]).name](args)


def stand_in_tools(monkeypatch) -> StandIns:
    """Replace seqgen's boundary to external programs (``seqgen.music.tools``), and the process
    music21 starts to ask lilypond for its version, with stand-ins; nothing is installed at first."""
    from music21.lily import translate

    from seqgen.music import tools

    stand = StandIns()
    monkeypatch.setattr(tools, "find", lambda name: stand.installed.get(name))
    monkeypatch.setattr(tools, "find_soundfont", lambda candidates=None: stand.soundfont)
    monkeypatch.setattr(tools, "run", stand.run)

    class VersionProcess:  # what music21's LilypondConverter runs: ``lilypond --version``
        def __init__(self, command, **kwargs):
            self.command = command

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def communicate(self):
            return stand.lilypond_version.encode(), b""

    monkeypatch.setattr(translate, "subprocess", SimpleNamespace(Popen=VersionProcess, PIPE=subprocess.PIPE,
                                                                 CREATE_NO_WINDOW=0))
    return stand


def completed(args, code: int = 0, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(args, code, "", stderr)


def make_soundfont(path: Path, seconds: float = 0.5, rate: int = 22050, root: int = 69, bank: int = 0) -> Path:
    """A General MIDI soundfont of one instrument for every program: a looped sine wave at MIDI
    key ``root`` (A4: 440 Hz), as program 0 of ``bank`` (128: a drum kit). Small enough to write
    in a test; real enough for any SF2 reader."""
    import struct

    import numpy as np

    n = int(seconds * rate)
    wave_ = (np.sin(2 * np.pi * 440.0 * np.arange(n) / rate) * 12000).astype("<i2")
    smpl = wave_.tobytes() + b"\0" * 92  # 46 zero samples after each sample, as the format asks

    def chunk(name: bytes, data: bytes) -> bytes:
        return name + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")

    def lst(kind: bytes, *chunks: bytes) -> bytes:
        return chunk(b"LIST", kind + b"".join(chunks))

    period = rate / 440.0
    loop_end = 100 + int(round(int((n - 200) / period) * period))  # whole periods: a seamless loop
    pdta = lst(b"pdta",
               chunk(b"phdr", struct.pack("<20sHHHIII", b"Sine", 0, bank, 0, 0, 0, 0)
                     + struct.pack("<20sHHHIII", b"EOP", 0, 0, 1, 0, 0, 0)),
               chunk(b"pbag", struct.pack("<HH", 0, 0) + struct.pack("<HH", 1, 0)),
               chunk(b"pmod", b"\0" * 10),
               chunk(b"pgen", struct.pack("<Hh", 41, 0) + struct.pack("<Hh", 0, 0)),
               chunk(b"inst", struct.pack("<20sH", b"Sine", 0) + struct.pack("<20sH", b"EOI", 1)),
               chunk(b"ibag", struct.pack("<HH", 0, 0) + struct.pack("<HH", 3, 0)),
               chunk(b"imod", b"\0" * 10),
               chunk(b"igen", struct.pack("<Hh", 54, 1) + struct.pack("<Hh", 38, -2400) + struct.pack("<Hh", 53, 0)
                     + struct.pack("<Hh", 0, 0)),
               chunk(b"shdr", struct.pack("<20sIIIIIBbHH", b"Sine", 0, n, 100, loop_end, rate, root, 0, 0, 1)
                     + struct.pack("<20sIIIIIBbHH", b"EOS", 0, 0, 0, 0, 0, 0, 0, 0, 0)))
    body = b"sfbk" + lst(b"INFO", chunk(b"ifil", struct.pack("<HH", 2, 1))) + lst(b"sdta", chunk(b"smpl", smpl)) + pdta
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
