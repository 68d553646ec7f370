"""Live speech for any Transcriber: text committed as it becomes stable, the rest tentative.

The audio of one utterance is transcribed again every time it has grown; words on which two
hypotheses in a row agree are committed (the "local agreement" policy of whisper_streaming) and
never change again. Complete sentences among the committed words are handed out as final, so
they can be translated while the speaker goes on. When the buffer grows long, the audio of a
finished, committed segment is dropped, so one transcription stays short however long she talks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from models.speech import SAMPLE_RATE, Transcriber, is_silent

SENTENCE_END = re.compile(r"[.!?…。؟]$")
TRIM_AFTER_S = 12.0  # buffer length above which finished segments are dropped
MIN_NEW_AUDIO_S = 0.6  # transcribe again only when this much audio came since the last time


def _norm(word: str) -> str:
    return re.sub(r"[^\w]", "", word.casefold())


def _agreed(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if _norm(x) != _norm(y):
            break
        n += 1
    return n


@dataclass
class Update:
    committed: str  # all committed text of this utterance so far
    tentative: str  # the rest of the latest hypothesis, may still change
    final: list[str] = field(default_factory=list)  # sentences that became final with this update


class StreamingSession:
    """One speaker's utterance (push-to-talk: press, speak, release).

    feed() may run while update() works in another thread; update() and finish() must not overlap.
    """

    def __init__(self, transcriber: Transcriber, language: str | None = None) -> None:
        self.transcriber = transcriber
        self.language = language
        self._chunks: list[np.ndarray] = []
        self._audio = np.zeros(0, dtype=np.float32)
        self._heard = 0  # samples in the buffer at the last transcription
        self._words: list[str] = []  # committed words of the whole utterance
        self._buffer_words = 0  # how many of them belong to the audio still in the buffer
        self._previous: list[str] = []  # last hypothesis, words after the committed ones
        self._emitted = 0  # committed words already handed out as final sentences
        self.detected: str | None = None
        self.seconds = 0.0

    def feed(self, samples: np.ndarray) -> None:
        self._chunks.append(samples)
        self.seconds += samples.size / SAMPLE_RATE

    def _take(self) -> np.ndarray:
        # feed() runs on the event loop while update() runs in a worker thread: swap the list first,
        # so a chunk fed meanwhile lands in the new list instead of being cleared away unheard
        chunks, self._chunks = self._chunks, []
        if chunks:
            self._audio = np.concatenate([self._audio, *chunks])
        return self._audio

    def ready(self) -> bool:
        """Enough new audio since the last transcription to try again."""
        pending = sum(c.size for c in self._chunks) + self._audio.size - self._heard
        return pending >= MIN_NEW_AUDIO_S * SAMPLE_RATE

    def update(self) -> Update:
        """Transcribe the buffer again (blocking) and commit what two hypotheses agree on."""
        audio = self._take()
        self._heard = audio.size
        words, segments = self._hear(audio)
        rest = self._after_committed(words)
        agree = _agreed(rest, self._previous)
        self._commit(rest[:agree])
        self._previous = rest[agree:]
        self._trim(segments)
        return Update(" ".join(self._words), " ".join(self._previous), self._sentences(final=False))

    def finish(self) -> Update:
        """The speaker let go: transcribe what is left once more and commit all of it.

        Greedy like the updates: the person opposite is waiting, and a beam search over the whole
        turn costs seconds on a CPU for little gain.
        """
        audio = self._take()
        words, _ = self._hear(audio) if audio.size > self._heard or self._previous else ([], [])
        if words:
            self._commit(self._after_committed(words))
        else:
            self._commit(self._previous)
        self._previous = []
        return Update(" ".join(self._words), "", self._sentences(final=True))

    def _hear(self, audio: np.ndarray) -> tuple[list[str], list]:
        if is_silent(audio):
            return [], []
        before = self._words[: len(self._words) - self._buffer_words]  # trimmed away: context only
        prompt = " ".join(before[-30:]) or None
        transcript = self.transcriber.transcribe(audio, language=self.language or self.detected,
                                                 prompt=prompt, live=True)
        if transcript.language and self.language is None:
            self.detected = transcript.language
        return transcript.text.split(), transcript.segments

    def _after_committed(self, words: list[str]) -> list[str]:
        """The words of a new hypothesis that come after the committed ones.

        Hypotheses of the same audio may split words differently ("Jobcenter" / "Job Center"), so
        the committed tail is looked for near where the count says it ends, not only at that count.
        """
        expected = self._buffer_words
        if expected == 0:
            return words
        for k in range(min(3, expected), 0, -1):
            tail = [_norm(w) for w in self._words[-k:]]
            around = sorted(range(max(k, expected - 3), min(len(words), expected + 3) + 1),
                            key=lambda p: abs(p - expected))
            for p in around:
                if [_norm(w) for w in words[p - k:p]] == tail:
                    return words[p:]
        return words[expected:]

    def _commit(self, words: list[str]) -> None:
        self._words.extend(words)
        self._buffer_words += len(words)

    def _trim(self, segments: list) -> None:
        """Drop the audio of leading segments whose words are all committed, once the buffer is long."""
        if self._audio.size < TRIM_AFTER_S * SAMPLE_RATE or len(segments) < 2:
            return
        cut_words, cut_at = 0, 0.0
        for segment in segments[:-1]:
            n = len(segment.text.split())
            if cut_words + n > self._buffer_words:
                break
            cut_words += n
            cut_at = segment.end
        if cut_at <= 0:
            return
        cut = int(cut_at * SAMPLE_RATE)
        self._audio = self._audio[cut:]
        self._heard = max(0, self._heard - cut)
        self._buffer_words -= cut_words

    def _sentences(self, final: bool) -> list[str]:
        """Committed sentences not yet handed out (at the end: everything that is left)."""
        end = len(self._words) if final else 0
        if not final:
            for i in range(len(self._words) - 1, self._emitted - 1, -1):
                if SENTENCE_END.search(self._words[i]):
                    end = i + 1
                    break
        if end <= self._emitted:
            return []
        text = " ".join(self._words[self._emitted:end])
        self._emitted = end
        return [s for s in re.split(r"(?<=[.!?…。؟])\s+", text) if s]
