"""Audio at the level a listener expects: every WAV file seqgen writes has its loudest sample at
``PEAK_DBFS`` (-1 dB below full scale, the headroom a player's resampling needs to never clip),
whoever made the sound (seqgen's sampler, or fluidsynth, whose default gain leaves a tune near
-25 dBFS). Silence stays silent.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import MusicError

PEAK_DBFS = -1.0
_FULL = 32767  # the loudest 16-bit sample
# Sample width in bytes -> numpy type of the PCM WAV samples; 8-bit samples are unsigned.
_WIDTHS = {1: "u1", 2: "<i2", 4: "<i4"}


def normalised(frames: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """``frames`` (any float scale) as 16-bit samples with their peak at ``peak_dbfs``."""
    peak = float(np.abs(frames).max()) if frames.size else 0.0
    if peak == 0.0:
        return np.zeros(frames.shape, "<i2")
    scale = 10 ** (peak_dbfs / 20) * _FULL / peak
    return np.clip(np.round(frames * scale), -_FULL, _FULL).astype("<i2")


def wav_bytes(frames: np.ndarray, rate: int, peak_dbfs: float = PEAK_DBFS) -> bytes:
    """``frames`` ((samples, channels) or (samples,) for mono, any float scale) as the bytes of a
    16-bit WAV file, normalised to ``peak_dbfs``."""
    pcm = normalised(frames, peak_dbfs)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(pcm.shape[1] if pcm.ndim == 2 else 1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def write_wav(path: Path, frames: np.ndarray, rate: int) -> Path:
    """``frames`` ((samples, channels), any float scale) as a 16-bit WAV file at ``path``, normalised."""
    with atomic_path(Path(path)) as tmp:
        tmp.write_bytes(wav_bytes(frames, rate))
    return Path(path)


def normalise_wav(source: Path, target: Path) -> Path:
    """The PCM WAV file ``source`` (8, 16 or 32 bits) written again to ``target``, normalised;
    MusicError when it is no such file (its message for the program that wrote it: "what it wrote
    is not ...")."""
    try:
        with wave.open(str(source), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise MusicError(f"what it wrote is not a PCM WAV file that can be read ({exc or 'too short'})") from None
    if width not in _WIDTHS:
        raise MusicError(f"what it wrote has {8 * width}-bit samples; 8, 16 or 32 bits can be read")
    samples = np.frombuffer(raw, _WIDTHS[width]).astype(np.float64)
    if width == 1:
        samples -= 128  # unsigned, silence at 128
    return write_wav(target, samples.reshape(-1, channels), rate)
