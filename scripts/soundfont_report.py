"""Measure the players of a General MIDI soundfont on one tune: seqgen's own sampler against
fluidsynth's program and the SoundFont libraries on PyPI, where each is installed.

    python scripts/soundfont_report.py [--soundfont FILE] [--midi FILE] [--seconds 30]

Each player runs in a process of its own, so that start-up (import and reading the soundfont)
is measured as a user meets it. Prints per player: start-up, render time, peak and RMS (dBFS),
the share of notes whose loudest pitch class is the note's own, and, against fluidsynth's
program where it is installed, how alike the loudness over time (correlation of 23 ms frames)
and the pitch content (mean cosine of per-frame chroma) are. Without ``--midi`` the first of
O'Neill's tunes that plays for about ``--seconds`` is exported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout, uninstalled

from seqgen.music.midi_events import read_midi  # noqa: E402

RATE = 44100
PLAYERS = ("seqgen", "fluidsynth-program", "tinysoundfont", "pyfluidsynth", "midirenderer")


def play(player: str, midi: Path, font: Path, wav: Path) -> dict:
    """Render with one player; its start-up and render seconds."""
    began = time.perf_counter()
    if player == "seqgen":
        from seqgen.music.synth import load_soundfont, render_midi
        load_soundfont(str(font))
        ready = time.perf_counter()
        render_midi(midi, wav, font)
    elif player == "fluidsynth-program":  # start-up is not separable from a run of the program
        ready = began
        subprocess.run(["fluidsynth", "-ni", "-F", str(wav), "-r", str(RATE), str(font), str(midi)],
                       check=True, capture_output=True)
    elif player == "midirenderer":  # reads the soundfont anew on every call: the render time includes it
        import midirenderer
        font_bytes = font.read_bytes()
        ready = time.perf_counter()
        wav.write_bytes(midirenderer.render_wave_from(font_bytes, midi.read_bytes()))
    else:
        synth, generate = _library(player, font)
        ready = time.perf_counter()
        _write(wav, _drive(synth, generate, midi))
    done = time.perf_counter()
    return {"start-up s": round(ready - began, 3), "render s": round(done - ready, 3)}


def _library(player: str, font: Path):
    """A synthesizer of ``player`` with ``font`` on channel 0, and its way to make n frames (n, 2)."""
    if player == "tinysoundfont":
        import tinysoundfont
        synth = tinysoundfont.Synth(samplerate=RATE)
        sfid = synth.sfload(str(font))
        synth.program_select(0, sfid, 0, 0)
        return synth, lambda n: np.frombuffer(synth.generate(n), np.float32).reshape(-1, 2)
    import fluidsynth
    synth = fluidsynth.Synth(samplerate=RATE)
    sfid = synth.sfload(str(font))
    synth.program_select(0, sfid, 0, 0)
    return synth, lambda n: synth.get_samples(n).reshape(-1, 2).astype(np.float32) / 32768


def _drive(synth, generate, midi: Path) -> np.ndarray:
    """Play the notes of ``midi`` in time (every program as program 0: tunes have one part)."""
    events = sorted([(n.start, 1, n.key, n.velocity) for n in read_midi(midi).sounding()]
                    + [(n.end, 0, n.key, 0) for n in read_midi(midi).sounding()])
    out, at = [], 0
    for seconds, on, key, velocity in events:
        if int(seconds * RATE) > at:
            out.append(generate(int(seconds * RATE) - at))
            at = int(seconds * RATE)
        synth.noteon(0, key, velocity) if on else synth.noteoff(0, key)
    out.append(generate(RATE))  # a second for the last note to die away
    return np.concatenate(out)


def _write(wav: Path, frames: np.ndarray) -> None:
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(frames, -1, 1) * 32767).astype("<i2").tobytes())


def _mono(wav: Path) -> tuple[np.ndarray, int]:
    """The sound of a 16-bit WAV file, channels mixed, and its rate (not every player makes 44.1 kHz)."""
    with wave.open(str(wav)) as w:
        pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return pcm.mean(axis=1) / 32768, w.getframerate()


def _chroma(x: np.ndarray, rate: int) -> np.ndarray:
    """Loudness per pitch class (C = 0) of a stretch of sound, 60 Hz to 5 kHz."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    hz = np.fft.rfftfreq(len(x), 1 / rate)
    keep = (hz > 60) & (hz < 5000)
    classes = np.round(12 * np.log2(hz[keep] / 440) + 69).astype(int) % 12
    return np.bincount(classes, spectrum[keep], minlength=12)


def _frames(x: np.ndarray, rate: int, seconds: float, size: float, hop: float) -> list[np.ndarray]:
    """Stretches of ``size`` seconds every ``hop`` seconds over the first ``seconds``."""
    size_n, hop_n = int(size * rate), int(hop * rate)
    return [x[i:i + size_n] for i in range(0, int(seconds * rate) - size_n, hop_n)]


def sound(wav: Path, midi: Path, reference: Path | None) -> dict:
    x, rate = _mono(wav)
    notes = [n for n in read_midi(midi).sounding() if n.end - n.start > 0.08]
    heard = sum(_chroma(x[int((n.start + 0.03) * rate):int((n.end - 0.03) * rate)], rate).argmax() == n.key % 12
                for n in notes)
    found = {"seconds": round(len(x) / rate, 2), "peak dBFS": round(20 * np.log10(np.abs(x).max() + 1e-12), 1),
             "RMS dBFS": round(20 * np.log10(np.sqrt(np.mean(x ** 2)) + 1e-12), 1),
             "notes at their pitch": f"{heard}/{len(notes)}"}
    if reference is not None:
        y, y_rate = _mono(reference)
        both = min(len(x) / rate, len(y) / y_rate)
        rms = [np.array([np.sqrt(np.mean(f ** 2)) for f in _frames(s, r, both, 0.023, 0.023)])
               for s, r in ((x, rate), (y, y_rate))]
        found["loudness corr."] = round(float(np.corrcoef(*rms)[0, 1]), 3)
        pairs = zip(*([_chroma(f, r) for f in _frames(s, r, both, 0.093, 0.046)] for s, r in ((x, rate), (y, y_rate))))
        cos = [a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in pairs if a.sum() > 1e-9 and b.sum() > 1e-9]
        found["chroma cosine"] = round(float(np.mean(cos)), 3)
    return found


def tune_midi(seconds: float, folder: Path) -> Path:
    from seqgen.music.abc import builtin_paths
    from seqgen.music.export import export_abc_file

    for result in export_abc_file(builtin_paths("oneills")[0], folder):
        notes = read_midi(result.path).sounding() if result.path else []
        if notes and abs(max(n.end for n in notes) - seconds) < 0.15 * seconds:
            return result.path
    raise SystemExit(f"no tune of about {seconds:g} s in the first O'Neill file")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--soundfont", type=Path, help="default: the one installed in the usual places")
    ap.add_argument("--midi", type=Path)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--one", help=argparse.SUPPRESS)  # a player, in a process of its own
    ap.add_argument("--wav", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.soundfont is None:
        from seqgen.music.tools import INSTALL_HINTS, find_soundfont
        args.soundfont = find_soundfont() or ap.error(f"no soundfont installed: {INSTALL_HINTS['soundfont']}")
    if args.one:
        print(json.dumps(play(args.one, args.midi, args.soundfont, args.wav)))
        return
    folder = Path(tempfile.mkdtemp(prefix="soundfont-report-"))
    midi = args.midi or tune_midi(args.seconds, folder)
    print(f"tune: {midi.name}; soundfont: {args.soundfont} ({args.soundfont.stat().st_size / 2**20:.0f} MiB)")
    results = {}
    for player in PLAYERS:
        wav = folder / f"{player}.wav"
        done = subprocess.run([sys.executable, __file__, "--one", player, "--midi", str(midi),
                               "--soundfont", str(args.soundfont), "--wav", str(wav)], capture_output=True, text=True)
        if done.returncode:
            print(f"{player}: not run here ({(done.stderr.strip().splitlines() or ['?'])[-1][:120]})")
            continue
        results[player] = (json.loads(done.stdout.strip().splitlines()[-1]), wav)
    reference = results.get("fluidsynth-program", (None, None))[1]
    for player, (timing, wav) in results.items():
        print(f"{player}: {json.dumps({**timing, **sound(wav, midi, reference if wav != reference else None)})}")


if __name__ == "__main__":
    main()
