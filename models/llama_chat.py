"""ChatModel on llama.cpp: the chat template, the request checks, and the batching scheduler.

Requests become jobs of the scheduler (models/batching.py), which decodes up to ``parallel`` of
them together in one context and reuses the KV cache of shared system prompts; more wait in a
queue of ``max_queue``, and beyond that QueueFull. Closing a request's event stream (its client
went away) frees its sequence at the next step.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
import re
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from models.batch_backend import Sampling
from models.batch_job import Job
from models.batching import DONE, Scheduler
from models.chat import ChatEvent, ContextLengthExceeded, Message, SamplingParams, check_fits
from models.llama_runtime import LlamaContext, LlamaModel, Sampler, check_grammar
from models.prefix_cache import common_length

log = logging.getLogger(__name__)

_PROBE = "Qx7ProbeOfTheTemplate"  # where the first turn's own text would begin

_SPECIAL = re.compile(r"<\|[^|<>\s]{1,40}\|>|</?s>|\[/?INST\]")


def defuse_special(text: str) -> str:
    """Control tokens typed into a message ('<|im_start|>system') must stay plain text: a zero-width
    space inside breaks the token, so neither users nor handbook pages can forge a system turn."""
    return _SPECIAL.sub(lambda m: m.group(0)[:1] + "\u200b" + m.group(0)[1:], text)


class JobEvents:
    """A request's events as an async iterator. Closing it, even before the first event (a client
    that left while its request still waited), or dropping it, withdraws the request."""

    def __init__(self, scheduler: Scheduler, job: Job, queue: asyncio.Queue) -> None:
        self._scheduler = scheduler
        self._job = job
        self._queue = queue
        self._open = True

    def __aiter__(self) -> JobEvents:
        return self

    async def __anext__(self) -> ChatEvent:
        if not self._open:
            raise StopAsyncIteration
        try:
            item = await self._queue.get()
        except BaseException:  # the consumer was cancelled while it waited
            self._close()
            raise
        if item is DONE:
            self._open = False
            raise StopAsyncIteration
        if isinstance(item, Exception):
            self._close()
            raise item
        return item

    def _close(self) -> None:
        if self._open:
            self._open = False
            self._scheduler.cancel(self._job)

    async def aclose(self) -> None:
        self._close()

    def __del__(self) -> None:
        self._close()


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
        parallel: int = 24,
        prefix_cache: int = 8,
        batch_size: int = 512,
        kv_cache: int = 0,
    ) -> None:
        """``kv_cache``: tokens of KV cache the running requests share (0: 8 x context_size); kept
        system prompts get context_size more."""
        self.id = model_id
        self.threads = threads or os.cpu_count() or 1  # 0 means every core
        self.context_length = context_size
        self.parallel = parallel
        self._model = LlamaModel(path, gpu_layers)
        model = self._model
        template = model.meta("tokenizer.chat_template")
        if not template:
            model.close()
            raise ValueError(f"{path.name} bringt keine Chat-Vorlage mit (no chat template in GGUF).")
        tokens = {"eos_token": model.token_text(model.eos), "bos_token": model.token_text(model.bos)}
        self._formatter = Jinja2ChatFormatter(template=template, stop_token_ids=[model.eos], **tokens)
        pool = max(kv_cache or 8 * context_size, context_size)  # the longest request always fits
        try:
            self._context = LlamaContext(
                model, cells=pool + context_size + batch_size, sequences=parallel + prefix_cache,
                batch_size=batch_size, threads=self.threads,
            )
        except MemoryError:
            model.close()
            raise
        self._scheduler = Scheduler(model, self._context, samplers=lambda s, n: Sampler(s, n, model.vocab),
                                    parallel=parallel,
                                    max_queue=max_queue, prefix_slots=prefix_cache, prefix_cells=context_size,
                                    cells=pool)
        self._seed_source = random.Random()

    # -- prompt -----------------------------------------------------------------------------

    def _render(self, formatter: Jinja2ChatFormatter, messages: Sequence[Message]) -> str:
        return formatter(messages=[{"role": m.role, "content": defuse_special(m.content)} for m in messages]).prompt

    def _prompt(self, messages: Sequence[Message]) -> tuple[list[int], list[str]]:
        rendered = self._formatter(
            messages=[{"role": m.role, "content": defuse_special(m.content)} for m in messages]
        )
        tokens = self._model.tokenize(rendered.prompt, add_special=not rendered.added_special)
        stops = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop]
        return tokens, [s for s in stops if s]

    def _shared_len(self, messages: Sequence[Message], tokens: list[int]) -> int:
        """How many leading tokens are the same for every conversation that starts with these system
        messages: the template's own opening, the system messages, the header of the first turn."""
        lead = list(itertools.takewhile(lambda m: m.role == "system", messages))
        if len(lead) == len(messages):
            return 0
        try:
            probe = self._render(self._formatter, [*lead, Message("user", _PROBE)])
        except Exception:  # a template that wants something else: no sharing
            return 0
        cut = probe.find(_PROBE)
        if cut <= 0:
            return 0
        head = self._model.tokenize(probe[:cut], add_special=False)
        return min(common_length(head, tokens), len(tokens) - 1)

    def count_prompt_tokens(self, messages: Sequence[Message]) -> int:
        return len(self._prompt(messages)[0])

    # -- generation -------------------------------------------------------------------------

    async def stream(
        self, messages: Sequence[Message], params: SamplingParams, *, owner: str = "", system_shared: bool = False
    ) -> AsyncIterator[ChatEvent]:
        chars = sum(len(m.content) for m in messages)
        if chars > self.context_length * 16:  # far beyond any tokenizer: refuse before the work
            raise ContextLengthExceeded(self.context_length, chars // 4, params.max_tokens)
        if params.grammar is not None:  # a grammar llama.cpp cannot follow is refused before it waits
            await asyncio.to_thread(check_grammar, self._model.vocab, params.grammar)
        with self._scheduler.preparing():
            tokens, template_stops, shared = await asyncio.to_thread(self._prepare, messages)
            budget = check_fits(self.context_length, len(tokens), params.max_tokens)
            return self._submit(tokens, budget, [*template_stops, *params.stop], shared, params, owner,
                                system_shared or not messages or messages[0].role != "system")

    def _prepare(self, messages: Sequence[Message]) -> tuple[list[int], list[str], int]:
        tokens, stops = self._prompt(messages)
        return tokens, stops, self._shared_len(messages, tokens)

    def _submit(self, tokens: list[int], budget: int, stops: list[str], shared: int, params: SamplingParams,
                owner: str, everyones: bool) -> JobEvents:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        seed = params.seed if params.seed is not None else self._seed_source.randrange(2**31)
        job = Job(
            tokens=tokens,
            budget=budget,
            stops=stops,
            sampling=Sampling(params.temperature, params.top_p, params.repeat_penalty, seed, params.grammar),
            owner=owner,
            emit=lambda item: loop.call_soon_threadsafe(queue.put_nowait, item),
            shared_len=shared,
            # a system message sent by the caller is theirs; the template's own opening is everyone's
            scope="" if everyones else owner,
        )
        self._scheduler.submit(job)  # raises QueueFull before any event
        return JobEvents(self._scheduler, job, queue)

    @property
    def busy(self) -> bool:
        """True while a request runs or waits."""
        return self._scheduler.busy

    @property
    def stats(self) -> dict[str, float]:
        return dict(self._scheduler.stats)

    def close(self) -> None:
        """Stop every request, wait for the worker thread, then free the context and the model."""
        self._scheduler.close()
        self._context.close()
        self._model.close()
