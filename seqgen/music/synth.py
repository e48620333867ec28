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
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from ..errors import MusicError
from .level import write_wav
from .midi_events import read_midi

RATE = 44100


class Gen(IntEnum):
    """The SoundFont 2 generators played here, by their numbers in the standard (section 8.1.2)."""

    START_OFFSET = 0  # samples; the coarse offsets count in steps of COARSE_STEP samples
    END_OFFSET = 1
    LOOP_START_OFFSET = 2
    LOOP_END_OFFSET = 3
    START_COARSE_OFFSET = 4
    END_COARSE_OFFSET = 12
    PAN = 17  # tenths of a percent: -500 left .. 500 right
    DELAY = 33  # the volume envelope; times in timecents (1200 * log2 seconds)
    ATTACK = 34
    HOLD = 35
    DECAY = 36
    SUSTAIN = 37  # centibels below full
    RELEASE = 38
    INSTRUMENT = 41  # the generator that ends a preset zone
    KEY_RANGE = 43  # (lowest, highest)
    VELOCITY_RANGE = 44
    LOOP_START_COARSE_OFFSET = 45
    ATTENUATION = 48  # centibels
    LOOP_END_COARSE_OFFSET = 50
    COARSE_TUNE = 51  # semitones
    FINE_TUNE = 52  # cents
    SAMPLE = 53  # the generator that ends an instrument zone
    SAMPLE_MODES = 54  # LOOPING_MODES loop while the key is held
    SCALE_TUNING = 56  # cents per key
    ROOT_KEY = 58  # overrides the sample's own root key when set


COARSE_STEP = 32768
LOOPING_MODES = (1, 3)  # loop continuously; loop until released (played here as the first)
_DEFAULTS = {Gen.PAN: 0, Gen.DELAY: -12000, Gen.ATTACK: -12000, Gen.HOLD: -12000, Gen.DECAY: -12000,
             Gen.SUSTAIN: 0, Gen.RELEASE: -12000, Gen.ATTENUATION: 0, Gen.COARSE_TUNE: 0, Gen.FINE_TUNE: 0,
             Gen.SAMPLE_MODES: 0, Gen.SCALE_TUNING: 100, Gen.ROOT_KEY: -1}
# A preset zone's values of these add to those of the instrument zones it plays.
_ADDED_BY_PRESETS = (Gen.ATTENUATION, Gen.COARSE_TUNE, Gen.FINE_TUNE, Gen.DELAY, Gen.ATTACK, Gen.HOLD, Gen.DECAY,
                     Gen.SUSTAIN, Gen.RELEASE, Gen.PAN)
# Bytes per record of the pdta chunks (preset and instrument headers, samples) and the format read.
_PRESET_HEADER = (38, "<20sHHH")  # name, program, bank, first zone
_INSTRUMENT_HEADER = (22, "<20sH")  # name, first zone
_SAMPLE_HEADER = (46, "<20sIIIIIBbHH")  # name, start, end, loop start, loop end, rate, root key, correction, ...
_BAG, _GENERATOR = 4, 4


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
        width, layout = _SAMPLE_HEADER
        shdr = raw["shdr"]  # the last record ends the list
        self.shdr = [struct.unpack_from(layout, shdr, i) for i in range(0, len(shdr) - width, width)]
        self.instruments = _zones(raw["inst"], _INSTRUMENT_HEADER, raw["ibag"], raw["igen"], Gen.SAMPLE)
        presets = _zones(raw["phdr"], _PRESET_HEADER, raw["pbag"], raw["pgen"], Gen.INSTRUMENT)
        self.presets = {(row[2], row[1]): zones for row, zones in presets}  # (bank, program)

    def voices(self, program: int, key: int, velocity: int, bank: int = 0) -> list[Voice]:
        """The samples that sound for ``key`` at ``velocity`` on General MIDI ``program`` of
        ``bank`` (128: the drum kits)."""
        zones = self.presets.get((bank, program)) or self.presets.get((0, 0)) or next(iter(self.presets.values()))
        found = []
        for pzone in zones:
            if not _covers(pzone, key, velocity):
                continue
            for izone in self.instruments[pzone[Gen.INSTRUMENT]][1]:
                if _covers(izone, key, velocity):
                    gens = {**_DEFAULTS, **izone}
                    for g in _ADDED_BY_PRESETS:
                        gens[g] = gens[g] + pzone.get(g, 0)
                    name, start, end, loop_start, loop_end, rate, root, correction, _, _ = self.shdr[izone[Gen.SAMPLE]]
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


def _zones(headers: bytes, header: tuple[int, str], bags: bytes, gens: bytes, terminal: Gen):
    """Per preset or instrument: (its header fields, its zones as {generator: value}); the global
    zone (no ``terminal`` generator) merged into the others. The last header ends the list."""
    width, layout = header
    rows = [struct.unpack_from(layout, headers, i) for i in range(0, len(headers), width)]
    # a bag: (its first generator, its first modulator); a generator: (its number, its amount)
    bag_gen = [struct.unpack_from("<HH", bags, i)[0] for i in range(0, len(bags), _BAG)]
    pairs = [struct.unpack_from("<Hh", gens, i) for i in range(0, len(gens), _GENERATOR)]
    out = []
    for row, following in zip(rows, rows[1:]):
        zones = []
        for bag in range(row[-1], following[-1]):
            zone = {}
            for op, amount in pairs[bag_gen[bag]:bag_gen[bag + 1]]:
                ranged = op in (Gen.KEY_RANGE, Gen.VELOCITY_RANGE)  # two bytes: lowest, highest
                zone[op] = (amount & 0xFF, (amount >> 8) & 0xFF) if ranged else amount
            zones.append(zone)
        base = zones.pop(0) if zones and terminal not in zones[0] else {}
        merged = [{**base, **z} for z in zones if terminal in z]
        out.append((row, merged))
    return out


def _covers(zone: dict, key: int, velocity: int) -> bool:
    lo, hi = zone.get(Gen.KEY_RANGE, (0, 127))
    vlo, vhi = zone.get(Gen.VELOCITY_RANGE, (0, 127))
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
    return write_wav(Path(wav_path), out, rate)  # normalised: the level does not depend on the font


def _play(font: SoundFont, voice: Voice, key: int, velocity: int, length: float, rate: int) -> np.ndarray:
    """(samples, 2): one voice of one note, held ``length`` seconds, then released."""
    g = voice.gens
    start, end, loop_start, loop_end, sample_rate, root, correction = voice.sample
    start += g.get(Gen.START_OFFSET, 0) + COARSE_STEP * g.get(Gen.START_COARSE_OFFSET, 0)
    end += g.get(Gen.END_OFFSET, 0) + COARSE_STEP * g.get(Gen.END_COARSE_OFFSET, 0)
    loop_start += g.get(Gen.LOOP_START_OFFSET, 0) + COARSE_STEP * g.get(Gen.LOOP_START_COARSE_OFFSET, 0)
    loop_end += g.get(Gen.LOOP_END_OFFSET, 0) + COARSE_STEP * g.get(Gen.LOOP_END_COARSE_OFFSET, 0)
    root = g[Gen.ROOT_KEY] if g[Gen.ROOT_KEY] >= 0 else root
    cents = (key - root) * g[Gen.SCALE_TUNING] + 100 * g[Gen.COARSE_TUNE] + g[Gen.FINE_TUNE] + correction
    step = 2 ** (cents / 1200) * sample_rate / rate
    release = max(_seconds(g[Gen.RELEASE]), 0.03)  # never cut a note off with a click
    pos = np.arange(int((length + release) * rate)) * step
    looped = g[Gen.SAMPLE_MODES] in LOOPING_MODES and loop_end - loop_start > 1
    if looped:
        span = loop_end - loop_start
        beyond = pos >= loop_end - start
        pos[beyond] = loop_start - start + np.mod(pos[beyond] - (loop_start - start), span)
    pos = pos[pos < end - start - 1]
    base = np.floor(pos).astype(np.int64)
    frac = (pos - base).astype(np.float32)
    wave_ = font.samples[start + base] * (1 - frac) + font.samples[start + base + 1] * frac
    gain = 10 ** (-g[Gen.ATTENUATION] / 200) * (velocity / 127) ** 2 / 32768  # 16-bit samples to -1..1
    sound = wave_.astype(np.float32) * _envelope(g, len(wave_), length, release, rate) * gain
    pan = np.clip(g[Gen.PAN], -500, 500) / 1000 + 0.5  # 0: left, 1: right
    return np.stack([sound * np.cos(pan * np.pi / 2), sound * np.sin(pan * np.pi / 2)], axis=1)


def play_note(font: SoundFont, program: int, key: int, velocity: int, seconds: float, rate: int = RATE,
              bank: int = 0) -> np.ndarray:
    """(samples, 2): every voice of one note of General MIDI ``program`` (of ``bank``), held
    ``seconds``, then released; no samples where the soundfont has none for that key."""
    sounds = [_play(font, voice, key, velocity, seconds, rate) for voice in font.voices(program, key, velocity, bank)]
    out = np.zeros((max((len(s) for s in sounds), default=0), 2), np.float32)
    for sound in sounds:
        out[:len(sound)] += sound
    return out

def _seconds(timecents: int) -> float:
    return 2 ** (timecents / 1200)


def _envelope(g: dict, n: int, held: float, release: float, rate: int) -> np.ndarray:
    """Volume envelope: delay, attack (linear), hold, decay to the sustain level, then release
    after ``held``. Decay and release fall linearly in decibels, as the SoundFont standard has
    them: the whole 100 dB in the decay or release time."""
    t = np.arange(n, dtype=np.float32) / rate
    delay, attack, hold, decay = (_seconds(g[i]) for i in (Gen.DELAY, Gen.ATTACK, Gen.HOLD, Gen.DECAY))
    env = np.clip((t - delay) / max(attack, 1e-4), 0, 1)
    decaying = t > delay + attack + hold
    since = t[decaying] - (delay + attack + hold)
    env[decaying] = _gain(np.minimum(100 * since / max(decay, 1e-3), max(g[Gen.SUSTAIN], 0) / 10))
    level_at_release = np.interp(held, t, env) if n else 0.0
    after = t[t > held] - held
    env[t > held] = level_at_release * _gain(100 * after / release) * (after < release)
    return env


def _gain(decibels: np.ndarray) -> np.ndarray:
    """The amplitude of an attenuation in dB."""
    return np.exp(decibels * np.float32(-np.log(10) / 20))
