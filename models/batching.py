"""Continuous batching over one context: many requests decode together (on llama.cpp; what the
scheduler needs of a model is in models/batch_backend.py, so a scripted fake drives its unit tests).

One worker thread owns the context. Each step it
1. drops requests whose client went away (their sequence and KV cells are freed at once),
2. admits waiting requests into free sequences, fairly: the person with the fewest running
   requests goes first, so one person's ten requests do not hold back everyone else; a request
   is let in only when the KV cache has room for its whole prompt and answer (reserved up front,
   so no running answer can ever run out of room),
3. builds one batch: the next token of every sequence that is writing, plus a slice of the prompts
   still being read (a long prompt is read in slices, so the others keep writing meanwhile),
4. decodes it, samples each sequence with its own sampler and checks its own stops and budget.

Prefix reuse: the leading system message of a request (an app's instructions, the handbook
assistant's rules) is kept in the KV cache after it was read once, in a sequence of its own, and
shared with later requests that start with the same tokens, so they skip reading it. A prefix is
shared only within its scope: the operator's texts (apps, handbook, interpreter) with everyone, a
system message that came with an API request only with requests of the same person. Requests that
arrive while their prefix is still being read wait for it instead of reading it again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator

from models.batch_backend import BatchContext, BatchModel, DecodeError, SamplerFactory
from models.batch_job import Job
from models.chat import Finish, QueueFull, TextDelta
from models.prefix_cache import Prefix, PrefixCache
from models.step_cost import STEP_SECONDS, StepCost

log = logging.getLogger(__name__)

DONE = object()
"""The last item a job emits."""

MIN_SHARED = 16
"""Shorter prefixes are not worth a cache entry."""

GATHER_SECONDS = 0.05
"""Starting from idle, how long the first step waits for requests that are still being prepared
(tokenized), so that prompts sent together are read together: one large batch costs far less per
token than several small ones."""


class Scheduler:
    def __init__(
        self,
        model: BatchModel,
        context: BatchContext,
        *,
        samplers: SamplerFactory,
        parallel: int,
        max_queue: int,
        prefix_slots: int,
        prefix_cells: int,
        cells: int,
        clock: Callable[[], float] = time.monotonic,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        """``cells``: the KV cache the running requests share; ``prefix_cells`` more hold kept prefixes
        (sequences 0 to parallel - 1 serve requests, the next ``prefix_slots`` hold prefixes).
        ``clock`` times the steps; tests that send requests together may gather longer."""
        self.model = model
        self.ctx = context
        self._samplers = samplers
        self._clock = clock
        self._gather_seconds = gather_seconds
        self.parallel = parallel
        self.max_queue = max_queue
        self.cells = cells
        self._reserved = 0
        self._free_seqs = list(range(parallel - 1, -1, -1))
        self.prefixes = PrefixCache(range(parallel, parallel + prefix_slots), prefix_cells, self._dropped)
        self._queues: OrderedDict[str, deque[Job]] = OrderedDict()
        self._queued = 0
        self._active: list[Job] = []
        self._running: dict[str, int] = {}
        self._turns: dict[str, int] = {}  # when each person (with work here) was last let in
        self._numbers = itertools.count(1)
        self._admissions = itertools.count(1)
        self._cond = threading.Condition()
        self._closing = False
        self._preparing = 0
        self._cost = StepCost()
        self.stats: dict[str, float] = dict.fromkeys(
            ("admitted", "most_running", "most_waiting", "steps", "prefix_hits", "prefix_tokens_reused",
             "reading_steps", "reading_seconds", "prompt_tokens_read", "writing_steps", "writing_seconds",
             "tokens_written"), 0
        )
        self._thread = threading.Thread(target=self._loop, name="llama-batch", daemon=True)
        self._thread.start()

    # -- from any thread ----------------------------------------------------------------------

    @contextlib.contextmanager
    def preparing(self) -> Iterator[None]:
        """Around a request's preparation (template, tokens) before ``submit``."""
        with self._cond:
            self._preparing += 1
        try:
            yield
        finally:
            with self._cond:
                self._preparing -= 1
                self._cond.notify()

    def submit(self, job: Job) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the chat model is closed")
            if self._queued - len(self._free_seqs) >= self.max_queue:  # those about to start do not wait
                raise QueueFull(self._queued)
            job.number = next(self._numbers)
            job.times["submitted"] = self._clock()
            self._queues.setdefault(job.owner, deque()).append(job)
            self._queued += 1
            self.stats["most_waiting"] = max(self.stats["most_waiting"], self._queued - len(self._free_seqs))
            self._cond.notify()

    def cancel(self, job: Job) -> None:
        """The client went away: a waiting job leaves the queue, a running one stops at the next step."""
        with self._cond:
            queue = self._queues.get(job.owner)
            if queue is not None and job in queue:
                queue.remove(job)
                self._queued -= 1
                if not queue:
                    del self._queues[job.owner]
                job.send(DONE)
                return
            job.cancelled = True
            self._cond.notify()

    @property
    def busy(self) -> bool:
        return bool(self._active or self._queued)

    @property
    def waiting(self) -> int:
        return self._queued

    def close(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    # -- the worker thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                idle = not self._active
                while not self._closing and not self._queued and not self._active:
                    self._cond.wait()
                if idle and self._preparing:  # others are on their way: read their prompts together
                    deadline = time.monotonic() + self._gather_seconds
                    while self._preparing and not self._closing and (left := deadline - time.monotonic()) > 0:
                        self._cond.wait(left)
                if self._closing:
                    break
                admitted = self._admit()
            try:
                for job in admitted:
                    self._start(job)
                self._step()
            except Exception:  # never lose the worker: fail what was running, go on
                log.exception("batch step failed")
                for job in list(self._active):
                    self._finish(job, "cancelled", error=RuntimeError("the chat engine failed"))
        self._shut_down()

    def _admit(self) -> list[Job]:
        """Move waiting jobs into free sequences (under the lock): the person with the fewest running
        requests first, among them the one whose turn lies longest back, then the oldest request."""
        admitted = []
        while self._queued and self._free_seqs:
            owner = min(self._queues, key=lambda o: (self._running.get(o, 0), self._turns.get(o, 0),
                                                     self._queues[o][0].number))
            queue = self._queues[owner]
            need = len(queue[0].tokens) + queue[0].budget
            if self._reserved + need > self.cells:
                break  # the next in turn waits for room; nobody behind it overtakes, so nobody starves
            self._turns[owner] = next(self._admissions)
            job = queue.popleft()
            job.reserved = need
            self._reserved += need
            job.times["admitted"] = self._clock()
            if not queue:
                del self._queues[owner]
            self._queued -= 1
            job.seq = self._free_seqs.pop()
            self._running[owner] = self._running.get(owner, 0) + 1
            self._active.append(job)
            admitted.append(job)
            self.stats["admitted"] += 1
            self.stats["most_running"] = max(self.stats["most_running"], len(self._active))
        return admitted

    def _start(self, job: Job) -> None:
        job.sampler = self._samplers(job.sampling, self.model.vocab_size)
        job.sampler.remember(job.tokens)
        self._match_prefix(job)

    # -- prefixes -----------------------------------------------------------------------------

    def _match_prefix(self, job: Job) -> None:
        if job.shared_len < MIN_SHARED:
            return
        head = job.tokens[: job.shared_len]
        best, best_len = self.prefixes.best(head, job.owner)  # another person's own system message: never
        if best is not None and best_len >= MIN_SHARED:
            if not best.ready:
                job.waiting_for, job.wait_len = best, best_len
                return
            self._use(job, best, best_len)
        if best_len < job.shared_len:  # an entry this job fills once it has read it (None: no room)
            job.makes = self.prefixes.reserve(head, job.scope)

    def _use(self, job: Job, prefix: Prefix, length: int) -> None:
        self.ctx.share(prefix.seq, job.seq, length)
        job.past = length
        self._used(job, prefix, length)

    def _used(self, job: Job, prefix: Prefix, length: int) -> None:
        job.reserved -= length  # those cells belong to the prefix
        self._reserved -= length
        job.uses = prefix
        self.prefixes.use(prefix)
        self.stats["prefix_hits"] += 1
        self.stats["prefix_tokens_reused"] += length

    def _dropped(self, prefix: Prefix) -> None:
        """The cache dropped a prefix (room for another, or its reader went away): its cells go."""
        self.ctx.forget(prefix.seq)
        for job in self._active:  # whoever waited for it reads the prompt itself
            if job.waiting_for is prefix:
                job.waiting_for = None
                self._match_prefix(job)

    def _prefix_read(self, job: Job) -> None:
        """After a step: a prefix this job has read is ready; whoever waited for it goes on."""
        prefix = job.makes
        if prefix is None or job.past < len(prefix.tokens):
            return
        if not prefix.ready:  # read in the job's own sequence: copy its cells to the prefix's
            self.ctx.share(job.seq, prefix.seq, len(prefix.tokens))
            prefix.ready = True
        job.makes = None
        for other in self._active:
            if other.waiting_for is prefix:
                other.waiting_for = None
                self._use(other, prefix, other.wait_len)
                if other.wait_len < other.shared_len:
                    other.makes = self.prefixes.reserve(other.tokens[: other.shared_len], other.scope)

    # -- one step -----------------------------------------------------------------------------

    def _step(self) -> None:
        for job in [j for j in self._active if j.cancelled]:
            self._finish(job, "cancelled")
        ctx = self.ctx
        ctx.clear()
        writing = [j for j in self._active if not j.reading and j.waiting_for is None]
        at: dict[int, Job] = {}
        for job in writing:
            at[ctx.add(job.last, len(job.tokens) + job.produced - 1, job.seq, True)] = job
        # with nobody writing, every waiting prompt is read in one batch (the cheapest per token);
        # while others write, a step reads only what keeps it near STEP_SECONDS, so their next
        # token is never far away
        room = ctx.batch_size - ctx.size
        if writing:
            fits = self._cost.reading_room(len(writing), STEP_SECONDS)
            if fits is not None:
                room = min(room, fits)
        reading = sorted((j for j in self._active if j.reading and j.waiting_for is None), key=lambda j: j.number)
        batch = list(writing)
        i = 0
        while i < len(reading) and room > 0:  # the list grows when others join a prefix read together
            job = reading[i]
            i += 1
            room -= self._read_prefix_together(job, room, reading)
            end = min(len(job.tokens), job.past + room)
            for pos in range(job.past, end):
                index = ctx.add(job.tokens[pos], pos, job.seq, pos == len(job.tokens) - 1)
            if end == len(job.tokens):
                at[index] = job
            room -= end - job.past
            job.past = end
            batch.append(job)
        if not ctx.size:  # everything running was just cancelled
            return
        started = self._clock()
        try:
            ctx.decode()
        except DecodeError as exc:
            log.error("%s", exc)
            for job in batch:
                if job.makes is not None:  # marked ready by a read together that failed: dropped with it
                    job.makes.ready = False
                self._finish(job, "cancelled", error=exc)
            return
        took = self._clock() - started
        self._cost.add(ctx.size, took)
        self.stats["steps"] += 1
        kind = "reading" if ctx.size > len(writing) else "writing"  # a profile for the benchmark
        self.stats[f"{kind}_steps"] += 1
        self.stats[f"{kind}_seconds"] += took
        self.stats["prompt_tokens_read"] += ctx.size - len(writing)
        self.stats["tokens_written"] += len(writing)
        for job in reading:
            self._prefix_read(job)
        for index, job in at.items():
            self._take(job, job.sampler.sample(ctx, index))

    def _read_prefix_together(self, job: Job, room: int, reading: list[Job]) -> int:
        """A job about to read a prefix that others wait for (they arrived together) reads it once
        for all of them: each prefix token goes into the batch for every one of their sequences and
        the prefix's own. The others then read the rest of their prompts in the same step. Answers
        the tokens added."""
        prefix = job.makes
        if prefix is None or prefix.ready or job.past or room < len(prefix.tokens):
            return 0
        riders = [w for w in self._active if w.waiting_for is prefix and w.wait_len == len(prefix.tokens)]
        if not riders:
            return 0
        seqs = [job.seq, prefix.seq, *(w.seq for w in riders)]
        for pos, token in enumerate(prefix.tokens):
            self.ctx.add(token, pos, seqs, False)
        job.past = len(prefix.tokens)
        prefix.ready = True  # its cells are written by this very step; _prefix_read lets the rest go on after it
        for w in riders:
            w.waiting_for = None
            w.past = len(prefix.tokens)
            self._used(w, prefix, len(prefix.tokens))
            reading.append(w)
        return len(prefix.tokens)

    def _take(self, job: Job, token: int) -> None:
        if self.model.is_end(token):
            self._finish(job, "stop")
            return
        if not job.produced:
            job.times["first_token"] = self._clock()
        text, end = job.take(token, self.model.piece(token))
        if text:
            job.send(TextDelta(text))
        if end:
            self._finish(job, end)

    def _finish(self, job: Job, reason: str, error: Exception | None = None) -> None:
        if job not in self._active:
            return
        if reason != "cancelled" and (tail := job.rest(flush=reason != "stop")):
            job.send(TextDelta(tail))
        self._release(job)  # first, so whoever sees the end finds the sequence free again
        job.send(error if error is not None else Finish(reason, len(job.tokens), job.produced))
        job.send(DONE)

    def _release(self, job: Job) -> None:
        self.ctx.forget(job.seq)
        self._reserved -= job.reserved
        job.reserved = 0
        if job.sampler is not None:
            job.sampler.free()
            job.sampler = None
        if job.uses is not None:
            job.uses.users -= 1
        if job.makes is not None and not job.makes.ready:
            self.prefixes.drop(job.makes)
        with self._cond:
            self._active.remove(job)
            self._free_seqs.append(job.seq)
            left = self._running[job.owner] - 1
            if left:
                self._running[job.owner] = left
            else:
                del self._running[job.owner]
                if job.owner not in self._queues:
                    self._turns.pop(job.owner, None)  # nothing here any more: no history kept

    def _shut_down(self) -> None:
        with self._cond:
            queued = [job for queue in self._queues.values() for job in queue]
            self._queues.clear()
            self._queued = 0
        for job in queued:
            job.send(Finish("cancelled", len(job.tokens), 0))
            job.send(DONE)
        for job in list(self._active):
            self._finish(job, "cancelled")
        self.prefixes.clear()
