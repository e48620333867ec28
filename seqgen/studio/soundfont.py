"""The notes abcjs's synth plays in the page, made by seqgen's own SoundFont player from the
studio's General MIDI soundfont: playback in the page needs nothing from the internet.

abcjs asks for each note it needs as ``<soundFontUrl><instrument>-mp3/<note>.mp3``, a pattern
fixed in abcjs, e.g. ``/soundfont/acoustic_grand_piano-mp3/Bb4.mp3``. The name is abcjs's; the
bytes are a WAV file, served as audio/wav, which the browser's ``decodeAudioData`` reads as it
reads MP3. abcjs cuts each note to its length and fades it out, so one long note serves them all.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from ..music import synth, tools
from ..music.level import wav_bytes
from .security import NotFound

# abcjs's instrument names (abcjs 6.7.2's instrumentIndexToName): the General MIDI programs in
# order, then "percussion", its drum channel.
INSTRUMENTS = (
    "acoustic_grand_piano", "bright_acoustic_piano", "electric_grand_piano", "honkytonk_piano",
    "electric_piano_1", "electric_piano_2", "harpsichord", "clavinet", "celesta", "glockenspiel", "music_box",
    "vibraphone", "marimba", "xylophone", "tubular_bells", "dulcimer", "drawbar_organ", "percussive_organ",
    "rock_organ", "church_organ", "reed_organ", "accordion", "harmonica", "tango_accordion",
    "acoustic_guitar_nylon", "acoustic_guitar_steel", "electric_guitar_jazz", "electric_guitar_clean",
    "electric_guitar_muted", "overdriven_guitar", "distortion_guitar", "guitar_harmonics", "acoustic_bass",
    "electric_bass_finger", "electric_bass_pick", "fretless_bass", "slap_bass_1", "slap_bass_2",
    "synth_bass_1", "synth_bass_2", "violin", "viola", "cello", "contrabass", "tremolo_strings",
    "pizzicato_strings", "orchestral_harp", "timpani", "string_ensemble_1", "string_ensemble_2",
    "synth_strings_1", "synth_strings_2", "choir_aahs", "voice_oohs", "synth_choir", "orchestra_hit",
    "trumpet", "trombone", "tuba", "muted_trumpet", "french_horn", "brass_section", "synth_brass_1",
    "synth_brass_2", "soprano_sax", "alto_sax", "tenor_sax", "baritone_sax", "oboe", "english_horn",
    "bassoon", "clarinet", "piccolo", "flute", "recorder", "pan_flute", "blown_bottle", "shakuhachi",
    "whistle", "ocarina", "lead_1_square", "lead_2_sawtooth", "lead_3_calliope", "lead_4_chiff",
    "lead_5_charang", "lead_6_voice", "lead_7_fifths", "lead_8_bass_lead", "pad_1_new_age", "pad_2_warm",
    "pad_3_polysynth", "pad_4_choir", "pad_5_bowed", "pad_6_metallic", "pad_7_halo", "pad_8_sweep",
    "fx_1_rain", "fx_2_soundtrack", "fx_3_crystal", "fx_4_atmosphere", "fx_5_brightness", "fx_6_goblins",
    "fx_7_echoes", "fx_8_scifi", "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe", "fiddle",
    "shanai", "tinkle_bell", "agogo", "steel_drums", "woodblock", "taiko_drum", "melodic_tom", "synth_drum",
    "reverse_cymbal", "guitar_fret_noise", "breath_noise", "seashore", "bird_tweet", "telephone_ring",
    "helicopter", "applause", "gunshot", "percussion")
PRESETS = {name: (0, program) for program, name in enumerate(INSTRUMENTS[:128])}  # (bank, program)
PRESETS["percussion"] = (128, 0)  # General MIDI's standard drum kit
# abcjs's note names: a letter, "b" for a flat, the octave (C4 is MIDI key 60): "C4", "Bb4", "Gb1".
NOTE = re.compile(r"([A-G])(b?)(\d)")
SEMITONES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
HELD_SECONDS = 4.0  # longer than a folk tune's longest note (a whole note at 60 quarters a minute)
VELOCITY = 100
# every note at one peak, 0.7 of full scale, as in the soundfonts made for abcjs; abcjs sets
# each note's volume
PEAK_DBFS = 20 * math.log10(0.7)
SILENCE = 0.1  # seconds: a note the soundfont cannot play (abcjs would refuse the whole tune for one)


def preset_of(instrument: str) -> tuple[int, int]:
    """The General MIDI (bank, program) of one of abcjs's instrument names."""
    if instrument not in PRESETS:
        raise NotFound(f"no General MIDI instrument {instrument!r} here; name one of abcjs's, e.g. acoustic_grand_piano")
    return PRESETS[instrument]


def key_of(note: str) -> int:
    """The MIDI key of one of abcjs's note names: ``"A4"`` -> 69, ``"Bb4"`` -> 70."""
    found = NOTE.fullmatch(note)
    if not found:
        raise NotFound(f"no note {note!r}: abcjs names a note by letter, 'b' for flat and octave, e.g. Bb4")
    letter, flat, octave = found.groups()
    key = 12 * (int(octave) + 1) + SEMITONES[letter] - len(flat)
    if not 0 <= key <= 127:
        raise NotFound(f"no note {note!r}: it is above G9, the highest MIDI key")
    return key


@functools.lru_cache(maxsize=128)  # some 400 kB each; a tune needs a few dozen notes
def note_wav(font: str, bank: int, program: int, key: int) -> bytes:
    """One note of ``program`` of ``bank`` from the soundfont at ``font``, as a 16-bit mono WAV
    file; silence where the soundfont has no sound for it (a drum kit it lacks, a key beyond its samples)."""
    sounds = synth.load_soundfont(font)
    sound = np.zeros(0, np.float32)
    if bank == 0 or (bank, program) in sounds.presets:  # else the piano would stand in for the drums
        sound = synth.play_note(sounds, program, key, VELOCITY, HELD_SECONDS, bank=bank).sum(axis=1)
    if not sound.size:
        sound = np.zeros(int(SILENCE * synth.RATE), np.float32)
    return wav_bytes(sound, synth.RATE, PEAK_DBFS)


def soundfont_routes(font: Path | None) -> APIRouter:
    """``GET /soundfont/<instrument>-mp3/<note>.mp3``: a note for abcjs, from ``font``."""
    router = APIRouter()

    @router.get("/soundfont/{instrument}-mp3/{note}.mp3")
    def note(instrument: str, note: str) -> Response:
        if font is None:
            raise NotFound(f"no soundfont to play with: {tools.INSTALL_HINTS['soundfont']}, or start "
                           "seqgen studio with --soundfont FILE")
        return Response(note_wav(str(font), *preset_of(instrument), key_of(note)), media_type="audio/wav")

    return router
