"""A small SoundFont sampler in numpy: MIDI -> WAV with a General MIDI soundfont, no synthesizer
program needed (``render.render_wav`` uses fluidsynth instead where it is installed).

It plays what a folk tune needs: one melodic instrument per channel (the MIDI program, General
MIDI bank 0), each note its sample pitched by resampling, looped while held, shaped by the
zone's volume envelope (attack, hold, decay, sustain, release), attenuation and pan. No filters,
modulators, reverb or chorus: a clear sound, not fluidsynth's.

A SoundFont 2 file is a RIFF tree; the parts used here:

    RIFF sfbk
      LIST sdta / smpl    16-bit mono samples, all instruments one after the other
      LIST pdta           presets -> preset zones -> instruments -> instrument zones -> samples
        phdr pbag pgen    presets (bank, program), their zones, each zone's generators
        inst ibag igen    instruments, their zones, each zone's generators
        shdr              samples: start, end, loop, rate, root key

A zone's generators (key range, sample, tuning, envelope, ...) add to its list's global zone
(the first one, when it names no instrument or sample).
"""

from __future__ import annotations

import functools
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import MusicError
from .midi_events import read_midi

RATE = 44100
_KEYS, _VELS, _INSTRUMENT, _SAMPLE = 43, 44, 41, 53
_DEFAULTS = {8: 13500, 17: 0, 33: -12000, 34: -12000, 35: -12000, 36: -12000, 37: 0, 38: -12000, 48: 0,
             51: 0, 52: 0, 54: 0, 56: 100, 58: -1}


@dataclass
class Voice:
    """One sample as a zone plays it: its generators merged (global zone, then the zone)."""

    gens: dict
    sample: tuple  # (start, end, loop start, loop end, rate, root key, pitch correction)


class SoundFont:
    """The presets and samples of one .sf2 file; samples are read from disk as notes need them."""

    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._read()
        except OSError as exc:
            raise MusicError(f"cannot read soundfont {self.path}: {exc.strerror or exc}") from None
        except (struct.error, ValueError, KeyError, IndexError):
            raise MusicError(f"{self.path} is not a SoundFont 2 file (.sf2); give a General MIDI soundfont") from None
        if not self.presets:
            raise MusicError(f"{self.path} has no instruments; give a General MIDI soundfont")

    def _read(self) -> None:
        chunks = _chunks(self.path)
        offset, size = chunks["smpl"]
        self.samples = np.memmap(self.path, "<i2", "r", offset, (size // 2,))  # read as notes need them
        raw = {name: _read(self.path, *chunks[name]) for name in ("phdr", "pbag", "pgen", "inst", "ibag", "igen", "shdr")}
        self.shdr = [struct.unpack_from("<20sIIIIIBbHH", raw["shdr"], i) for i in range(0, len(raw["shdr"]) - 46, 46)]
        self.instruments = _zones(raw["inst"], 22, raw["ibag"], raw["igen"], _SAMPLE)
        presets = _zones(raw["phdr"], 38, raw["pbag"], raw["pgen"], _INSTRUMENT, header="<20sHHH")
        self.presets = {(row[2], row[1]): zones for row, zones in presets}  # (bank, program)

    def voices(self, program: int, key: int, velocity: int) -> list[Voice]:
        """The samples that sound for ``key`` at ``velocity`` on General MIDI ``program``."""
        zones = self.presets.get((0, program)) or self.presets.get((0, 0)) or next(iter(self.presets.values()))
        found = []
        for pzone in zones:
            if not _covers(pzone, key, velocity):
                continue
            for izone in self.instruments[pzone[_INSTRUMENT]][1]:
                if _covers(izone, key, velocity):
                    gens = {**_DEFAULTS, **izone}
                    for g in (48, 51, 52, 33, 34, 35, 36, 37, 38, 17):  # preset zones add to these
                        gens[g] = gens[g] + pzone.get(g, 0)
                    name, start, end, loop_start, loop_end, rate, root, correction, _, _ = self.shdr[izone[_SAMPLE]]
                    found.append(Voice(gens, (start, end, loop_start, loop_end, rate, root, correction)))
        return found


def _chunks(path: Path) -> dict[str, tuple[int, int]]:
    """(offset, size) of each sub-chunk of the sdta and pdta lists."""
    found = {}
    with open(path, "rb") as fh:
        riff, _, form = struct.unpack("<4sI4s", fh.read(12))
        if riff != b"RIFF" or form != b"sfbk":
            raise ValueError("not a soundfont")
        while head := fh.read(8):
            name, size = struct.unpack("<4sI", head)
            if name == b"LIST":
                end = fh.tell() + size
                fh.read(4)
                while fh.tell() < end:
                    sub, sub_size = struct.unpack("<4sI", fh.read(8))
                    found[sub.decode("latin-1")] = (fh.tell(), sub_size)
                    fh.seek(sub_size + (sub_size & 1), 1)
            else:
                fh.seek(size + (size & 1), 1)
    return found


def _read(path: Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(size)


def _zones(headers: bytes, width: int, bags: bytes, gens: bytes, terminal: int, header: str = "<20sH"):
    """Per preset or instrument: (its header fields, its zones as {generator: value}); the global
    zone (no ``terminal`` generator) merged into the others. The last header ends the list."""
    rows = [struct.unpack_from(header, headers, i) for i in range(0, len(headers), width)]
    bag_gen = [struct.unpack_from("<HH", bags, i)[0] for i in range(0, len(bags), 4)]
    pairs = [struct.unpack_from("<Hh", gens, i) for i in range(0, len(gens), 4)]
    out = []
    for row, following in zip(rows, rows[1:]):
        zones = []
        for bag in range(row[-1], following[-1]):
            zone = {}
            for op, amount in pairs[bag_gen[bag]:bag_gen[bag + 1]]:
                zone[op] = (amount & 0xFF, (amount >> 8) & 0xFF) if op in (_KEYS, _VELS) else amount
            zones.append(zone)
        base = zones.pop(0) if zones and terminal not in zones[0] else {}
        merged = [{**base, **z} for z in zones if terminal in z]
        out.append((row, merged))
    return out


def _covers(zone: dict, key: int, velocity: int) -> bool:
    lo, hi = zone.get(_KEYS, (0, 127))
    vlo, vhi = zone.get(_VELS, (0, 127))
    return lo <= key <= hi and vlo <= velocity <= vhi


@functools.lru_cache(maxsize=2)
def load_soundfont(path: str) -> SoundFont:
    """The soundfont at ``path``, read once per process (a server renders many tunes)."""
    return SoundFont(Path(path))


def render_midi(midi_path: Path, wav_path: Path, soundfont: Path, rate: int = RATE) -> Path:
    """Play ``midi_path`` with ``soundfont`` into a 16-bit stereo WAV file at ``wav_path``."""
    font = load_soundfont(str(soundfont))
    notes = read_midi(midi_path).sounding()
    if not notes:
        raise MusicError(f"{midi_path} holds no notes to play")
    out = np.zeros((int((max(n.end for n in notes) + 1.0) * rate) + 1, 2), np.float32)
    for n in notes:
        for voice in font.voices(n.program, n.key, n.velocity):
            sound = _play(font, voice, n.key, n.velocity, n.end - n.start, rate)
            at = int(n.start * rate)
            out[at:at + len(sound)] += sound[: len(out) - at]
    peak = float(np.abs(out).max()) or 1.0
    pcm = (out / peak * 0.9 * 32767).astype("<i2")
    with atomic_path(Path(wav_path)) as tmp, wave.open(str(tmp), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return Path(wav_path)


def _play(font: SoundFont, voice: Voice, key: int, velocity: int, length: float, rate: int) -> np.ndarray:
    """(samples, 2): one voice of one note, held ``length`` seconds, then released."""
    g = voice.gens
    start, end, loop_start, loop_end, sample_rate, root, correction = voice.sample
    start += g.get(0, 0) + 32768 * g.get(4, 0)
    end += g.get(1, 0) + 32768 * g.get(12, 0)
    loop_start += g.get(2, 0) + 32768 * g.get(45, 0)
    loop_end += g.get(3, 0) + 32768 * g.get(50, 0)
    root = g[58] if g[58] >= 0 else root
    cents = (key - root) * g[56] + 100 * g[51] + g[52] + correction
    step = 2 ** (cents / 1200) * sample_rate / rate
    release = max(_seconds(g[38]), 0.03)  # never cut a note off with a click
    pos = np.arange(int((length + release) * rate)) * step
    looped = g[54] in (1, 3) and loop_end - loop_start > 1
    if looped:
        span = loop_end - loop_start
        beyond = pos >= loop_end - start
        pos[beyond] = loop_start - start + np.mod(pos[beyond] - (loop_start - start), span)
    pos = pos[pos < end - start - 1]
    base = np.floor(pos).astype(np.int64)
    frac = (pos - base).astype(np.float32)
    wave_ = font.samples[start + base] * (1 - frac) + font.samples[start + base + 1] * frac
    gain = 10 ** (-g[48] / 200) * (velocity / 127) ** 2 / 32768
    sound = wave_.astype(np.float32) * _envelope(g, len(wave_), length, release, rate) * gain
    pan = np.clip(g[17], -500, 500) / 1000 + 0.5  # 0: left, 1: right
    return np.stack([sound * np.cos(pan * np.pi / 2), sound * np.sin(pan * np.pi / 2)], axis=1)


def _seconds(timecents: int) -> float:
    return 2 ** (timecents / 1200)


def _envelope(g: dict, n: int, held: float, release: float, rate: int) -> np.ndarray:
    """Volume envelope: delay, attack (linear), hold, decay to the sustain level, then release
    after ``held``. Decay and release fall linearly in decibels, as the SoundFont standard has
    them: the whole 100 dB in the decay or release time."""
    t = np.arange(n, dtype=np.float32) / rate
    delay, attack, hold, decay = (_seconds(g[i]) for i in (33, 34, 35, 36))
    env = np.clip((t - delay) / max(attack, 1e-4), 0, 1)
    decaying = t > delay + attack + hold
    since = t[decaying] - (delay + attack + hold)
    env[decaying] = _gain(np.minimum(100 * since / max(decay, 1e-3), max(g[37], 0) / 10))
    level_at_release = np.interp(held, t, env) if n else 0.0
    after = t[t > held] - held
    env[t > held] = level_at_release * _gain(100 * after / release) * (after < release)
    return env


def _gain(decibels: np.ndarray) -> np.ndarray:
    """The amplitude of an attenuation in dB."""
    return np.exp(decibels * np.float32(-np.log(10) / 20))
