"""ChatModel on llama.cpp through llama-cpp-python.

One model, one context. Requests wait their turn in a FIFO queue (asyncio.Lock) and decode in
a worker thread, so the event loop never blocks; a full queue raises QueueFull. A request
whose consumer goes away sets a flag that the decode loop checks after every token. The
batching scheduler of a later issue replaces the queue behind the same protocol.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from models.chat import (
    ChatEvent,
    ContextLengthExceeded,
    Finish,
    Message,
    QueueFull,
    SamplingParams,
    TextDelta,
    check_fits,
)

log = logging.getLogger(__name__)

_DONE = object()


def concurrent_wait(future: asyncio.Future, timeout: float = 30.0) -> None:
    """Wait for a decode thread from outside its event loop (at shutdown)."""
    deadline = time.monotonic() + timeout
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.02)


_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]")


def defuse_special(text: str) -> str:
    """Control tokens typed into a message ('<|im_start|>system') must stay plain text: a zero-width
    space inside breaks the token, so neither users nor handbook pages can forge a system turn."""
    return _SPECIAL.sub(lambda m: m.group(0)[:1] + "\u200b" + m.group(0)[1:], text)


def _safe_prefix_len(text: str, stops: Sequence[str]) -> int:
    """Length of the part of text that cannot be the start of a stop string."""
    hold = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:n]):
                hold = max(hold, n)
                break
    return len(text) - hold


class LlamaChatModel:
    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        context_size: int,
        threads: int,
        gpu_layers: int,
        max_queue: int,
    ) -> None:
        from llama_cpp import Llama, llama_chat_format

        self.id = model_id
        self.threads = threads or os.cpu_count() or 1  # 0 means every core
        self._llm = Llama(
            model_path=str(path),
            n_ctx=context_size,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            n_gpu_layers=gpu_layers,
            verbose=False,
        )
        self.context_length = self._llm.n_ctx()
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{path.name} bringt keine Chat-Vorlage mit (no chat template in GGUF).")
        model = self._llm._model
        eos = self._llm.token_eos()
        bos = self._llm.token_bos()
        self._formatter = llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(eos) if eos != -1 else "",
            bos_token=model.token_get_text(bos) if bos != -1 else "",
            stop_token_ids=[eos],
        )
        self._vocab = model.vocab
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._max_queue = max_queue
        self._seed_source = random.Random()
        self._worker: asyncio.Future | None = None
        self._cancel: threading.Event | None = None

    # -- prompt -----------------------------------------------------------------------------

    def _prompt(self, messages: Sequence[Message]) -> tuple[list[int], list[str]]:
        rendered = self._formatter(
            messages=[{"role": m.role, "content": defuse_special(m.content)} for m in messages]
        )
        tokens = self._llm.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True
        )
        stops = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]
        return tokens, [s for s in stops if s]

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._prompt(messages)[0])

    # -- generation -------------------------------------------------------------------------

    def _decode(
        self,
        tokens: list[int],
        budget: int,
        stops: list[str],
        params: SamplingParams,
        cancel: threading.Event,
        emit,
    ) -> None:
        """Runs in a worker thread: decode, emit text deltas, then one Finish."""
        import llama_cpp

        llm = self._llm
        llm.set_seed(params.seed if params.seed is not None else self._seed_source.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        produced = 0
        reason = "length"
        room = self.context_length - len(tokens)
        # Evaluate the whole prompt every time: reusing a cached prefix changes llama.cpp's batch
        # shapes and with them the floating-point results, so the same question could get another
        # answer at temperature 0. Prefix reuse comes back with the batching scheduler, per sequence.
        llm.reset()
        for token in llm.generate(
            tokens,
            temp=params.temperature,
            top_p=params.top_p,
            top_k=40 if params.temperature > 0 else 1,
            min_p=0.05 if params.temperature > 0 else 0.0,
            repeat_penalty=params.repeat_penalty,
            reset=True,
        ):
            if cancel.is_set():
                reason = "cancelled"
                break
            if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                reason = "stop"
                break
            produced += 1
            pending += decoder.decode(llm.detokenize([token]))
            hit = min((i for s in stops if (i := pending.find(s)) != -1), default=-1)
            if hit != -1:
                if hit:
                    emit(TextDelta(pending[:hit]))
                pending = ""
                reason = "stop"
                break
            safe = _safe_prefix_len(pending, stops)
            if safe:
                emit(TextDelta(pending[:safe]))
                pending = pending[safe:]
            if produced >= budget or produced >= room:
                break
        tail = pending + (decoder.decode(b"", final=True) if reason != "stop" else "")
        if tail and reason != "cancelled":
            emit(TextDelta(tail))
        emit(Finish(reason, len(tokens), produced))

    async def stream(self, messages: Sequence[Message], params: SamplingParams) -> AsyncIterator[ChatEvent]:
        chars = sum(len(m.content) for m in messages)
        if chars > self.context_length * 16:  # far beyond any tokenizer: refuse before the work
            raise ContextLengthExceeded(self.context_length, chars // 4, params.max_tokens)
        tokens, template_stops = await asyncio.to_thread(self._prompt, messages)
        budget = check_fits(self.context_length, len(tokens), params.max_tokens)
        if self._lock.locked() and self._waiting >= self._max_queue:
            raise QueueFull(self._waiting)
        return self._run(tokens, budget, [*template_stops, *params.stop], params)

    async def _run(
        self, tokens: list[int], budget: int, stops: list[str], params: SamplingParams
    ) -> AsyncIterator[ChatEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        self._cancel = cancel

        def emit(item: object) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                self._decode(tokens, budget, stops, params, cancel, emit)
            except Exception as exc:  # handed to the consumer, never lost in the thread
                emit(exc)
            finally:
                emit(_DONE)

        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            worker = loop.run_in_executor(None, work)
        except BaseException:
            self._lock.release()
            raise
        # the context is free for the next request once the thread has left it, even if this
        # generator is abandoned without being closed
        self._worker = worker
        worker.add_done_callback(lambda _: self._lock.release())
        try:
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancel.set()
            if self._cancel is cancel:
                self._cancel = None

    @property
    def busy(self) -> bool:
        """True while a request holds the context (decoding, or its thread still finishing)."""
        return self._lock.locked()

    def close(self) -> None:
        """Stop a running decode, wait for its thread, then free the model."""
        if self._cancel is not None:
            self._cancel.set()
        if self._worker is not None and not self._worker.done():
            concurrent_wait(self._worker)
        self._llm.close()
