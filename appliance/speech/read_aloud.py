"""Reading text aloud on the box: which voice reads which language is decided here, in one place.

A Piper voice where IT imported one for the language (models.voices), espeak-ng for every other
language it knows. WAV in memory, nothing stored.
"""

from __future__ import annotations

import asyncio

from appliance.engines import Models
from appliance.infra.errors import ApiError
from models.espeak_voice import MAX_CHARS, EspeakVoice, VoiceUnavailable, espeak_languages
from models.voice import Voice

__all__ = ["MAX_CHARS", "ReadAloud"]


class ReadAloud:
    def __init__(self, models: Models, enabled: bool) -> None:
        """``enabled``: speech.read_aloud; off, nothing is read aloud and no language offers it."""
        self.models = models
        self.enabled = enabled

    def languages(self) -> frozenset[str]:
        """Languages that can be read aloud: those of the loaded Piper voices and espeak-ng's."""
        if not self.enabled:
            return frozenset()
        return frozenset(self.models.voices()) | espeak_languages()

    def voice(self, language: str) -> Voice:
        piper = self.models.voices().get(language)
        return piper if piper is not None else EspeakVoice(language)

    async def say(self, text: str, language: str) -> bytes:
        """WAV bytes of ``text`` (at most MAX_CHARS are read) in ``language``."""
        if not self.enabled:
            raise ApiError(403, "Vorlesen ist auf diesem Gerät ausgeschaltet (speech.read_aloud).",
                           "Reading aloud is turned off on this box (speech.read_aloud).", code="read_aloud_off")
        try:
            return await asyncio.to_thread(lambda: self.voice(language).speak(text[:MAX_CHARS]))
        except VoiceUnavailable:
            raise ApiError(404, f"Für die Sprache '{language}' ist keine Vorlesestimme installiert.",
                           f"No voice for reading aloud is installed for '{language}'.",
                           code="voice_unavailable", param="language") from None
