"""espeak-ng (Debian's package) as a Voice: every language it knows, robotic but always there.

The fallback for reading aloud where no Piper voice is imported for a language. WAV in memory,
nothing stored; the text goes to the program on stdin, never as an argument.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess

ESPEAK = "espeak-ng"
# Whisper's language codes -> espeak-ng voices where they differ
VOICES = {"en": "en-gb", "fr": "fr-fr", "es": "es", "vi": "vi"}
MAX_CHARS = 2000
SAMPLE_RATE = 22050  # what espeak-ng writes


class VoiceUnavailable(RuntimeError):
    """No voice reads this language (or espeak-ng failed); the message says which."""


@functools.cache
def espeak_languages() -> frozenset[str]:
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


class EspeakVoice:
    """espeak-ng for one language, at ``rate`` words per minute."""

    def __init__(self, language: str, rate: int = 150) -> None:
        if shutil.which(ESPEAK) is None or language not in espeak_languages():
            raise VoiceUnavailable(language)
        self.id = f"espeak-ng-{language}"
        self.language = language
        self.sample_rate = SAMPLE_RATE
        self.rate = rate

    def speak(self, text: str) -> bytes:
        binary = shutil.which(ESPEAK)
        if binary is None:
            raise VoiceUnavailable(self.language)
        result = subprocess.run(
            [binary, "-v", VOICES.get(self.language, self.language), "-s", str(self.rate), "-b", "1", "--stdout"],
            input=text[:MAX_CHARS].encode("utf-8"), capture_output=True, check=False, timeout=60,
        )
        if result.returncode != 0 or not result.stdout:
            raise VoiceUnavailable(result.stderr.decode("utf-8", "replace").strip() or self.language)
        return _fix_sizes(result.stdout)


def _fix_sizes(wav: bytes) -> bytes:
    """espeak-ng writes to a pipe before it knows the length; put the real sizes in the header."""
    if len(wav) < 44 or wav[:4] != b"RIFF" or wav[36:40] != b"data":
        return wav
    return wav[:4] + struct.pack("<I", len(wav) - 8) + wav[8:40] + struct.pack("<I", len(wav) - 44) + wav[44:]
