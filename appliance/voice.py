"""Reading text aloud on the box: a Piper voice where one is loaded for the language, else espeak-ng
(Debian's package). WAV in memory, nothing stored."""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from collections.abc import Mapping

from models.voice import Voice

ESPEAK = "espeak-ng"
# Whisper's language codes -> espeak-ng voices where they differ
VOICES = {"en": "en-gb", "fr": "fr-fr", "es": "es", "vi": "vi"}
MAX_CHARS = 2000


class VoiceUnavailable(RuntimeError):
    pass


@functools.cache
def available_languages() -> frozenset[str]:
    """Languages espeak-ng has a voice for (empty when espeak-ng is not installed)."""
    binary = shutil.which(ESPEAK)
    if binary is None:
        return frozenset()
    result = subprocess.run([binary, "--voices"], capture_output=True, text=True, check=False, timeout=10)
    found: set[str] = set()
    for line in result.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2:
            found.add(parts[1].split("-")[0])
    return frozenset(found)


def languages(voices: Mapping[str, Voice]) -> frozenset[str]:
    """Languages that can be read aloud: those of the loaded Piper voices and espeak-ng's."""
    return frozenset(voices) | available_languages()


def speak(text: str, language: str, voices: Mapping[str, Voice] | None = None, rate: int = 150) -> bytes:
    """WAV bytes of ``text`` in ``language``: the Piper voice for it when ``voices`` has one, else espeak-ng."""
    piper = (voices or {}).get(language)
    if piper is not None:
        return piper.speak(text[:MAX_CHARS])
    return _espeak(text, language, rate)


def _espeak(text: str, language: str, rate: int) -> bytes:
    """espeak-ng's WAV. The text goes in on stdin, never as an argument."""
    binary = shutil.which(ESPEAK)
    if binary is None or language not in available_languages():
        raise VoiceUnavailable(language)
    result = subprocess.run(
        [binary, "-v", VOICES.get(language, language), "-s", str(rate), "-b", "1", "--stdout"],
        input=text[:MAX_CHARS].encode("utf-8"), capture_output=True, check=False, timeout=60,
    )
    if result.returncode != 0 or not result.stdout:
        raise VoiceUnavailable(result.stderr.decode("utf-8", "replace").strip() or language)
    return _fix_sizes(result.stdout)


def _fix_sizes(wav: bytes) -> bytes:
    """espeak-ng writes to a pipe before it knows the length; put the real sizes in the header."""
    if len(wav) < 44 or wav[:4] != b"RIFF" or wav[36:40] != b"data":
        return wav
    return wav[:4] + struct.pack("<I", len(wav) - 8) + wav[8:40] + struct.pack("<I", len(wav) - 44) + wav[44:]
