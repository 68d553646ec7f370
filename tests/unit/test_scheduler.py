"""The batching scheduler on a scripted fake backend (models/fake_batch_backend.py): admission,
the queue, fairness, KV room, cancellation, prefix reuse and waits, stops and budgets. Requests
sent together are submitted while ``preparing`` is held (the scheduler gathers until it ends); a
step is paused by holding the fake's decode, so what arrives while something runs is fixed. Timeouts
only keep a broken scheduler from hanging the suite: no test depends on the machine's speed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from models.batch_backend import DecodeError, Sampling
from models.batch_job import Job
from models.batching import DONE, Scheduler
from models.chat import Finish, QueueFull, TextDelta
from models.fake_batch_backend import FakeBatchBackend, repeat_last, scripted, text_tokens

SAFETY = 10.0
"""Seconds a test waits for what must come at once; only reached when the scheduler is broken."""

GREEDY = Sampling(temperature=0.0, top_p=1.0, repeat_penalty=1.0, seed=0)


class Client:
    """A request's receiving end: the events the scheduler emitted to it."""

    def __init__(self) -> None:
        self.events: list[object] = []
        self.done = threading.Event()

    def __call__(self, item: object) -> None:
        self.events.append(item)
        if item is DONE:
            self.done.set()

    def wait(self) -> None:
        assert self.done.wait(SAFETY), f"a request never ended: {self.events}"

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def finish(self) -> Finish | Exception:
        """The one event after the text: a Finish, or the error that ended the request."""
        (end,) = (e for e in self.events if not isinstance(e, TextDelta) and e is not DONE)
        return end


def job(prompt: str, *, owner: str = "anna", budget: int = 8, stops: tuple[str, ...] = (), shared: int = 0,
        scope: str = "") -> Job:
    return Job(tokens=text_tokens(prompt), budget=budget, stops=list(stops), sampling=GREEDY, owner=owner,
               emit=Client(), shared_len=shared, scope=scope)


def client(j: Job) -> Client:
    assert isinstance(j.emit, Client)
    return j.emit


def wait_all(*jobs: Job) -> None:
    for j in jobs:
        client(j).wait()


class Bench:
    """A scheduler on a fresh fake backend."""

    def __init__(self, writer=repeat_last, *, parallel: int = 4, max_queue: int = 8, prefix_slots: int = 4,
                 prefix_cells: int = 512, cells: int = 4096, batch_size: int = 64, pieces=None) -> None:
        self.backend = FakeBatchBackend(writer, pieces=pieces, cells=cells + prefix_cells + batch_size,
                                        batch_size=batch_size)
        self.ctx = self.backend.context
        self.scheduler = Scheduler(self.backend.model, self.ctx, samplers=self.backend.sampler, parallel=parallel,
                                   max_queue=max_queue, prefix_slots=prefix_slots, prefix_cells=prefix_cells,
                                   cells=cells, clock=self.ctx.clock, gather_seconds=SAFETY)

    def run(self, *jobs: Job) -> None:
        """Submit requests one after the other, then wait until all of them ended."""
        for j in jobs:
            self.scheduler.submit(j)
        wait_all(*jobs)

    def together(self, *jobs: Job) -> None:
        """Submit requests that arrive together: the first step sees all of them."""
        with self.scheduler.preparing():
            for j in jobs:
                self.scheduler.submit(j)

    def held(self, steps: int = 0) -> None:
        """Let ``steps`` held steps finish, then wait until the next one comes to its decode."""
        if steps:
            self.ctx.let(steps)
        assert self.ctx.wait_held(SAFETY), "no step came to its decode"

    def admitted(self) -> list[str]:
        """The prompts of the requests admitted so far, in order."""
        return ["".join(map(chr, s.remembered)) for s in self.backend.samplers]

    def added(self, seq: int, since: int = 0) -> list[tuple[int, int]]:
        """(position, token) of every token added for a sequence, from step ``since`` on."""
        return [(a.position, a.token) for step in self.ctx.steps[since:] for a in step if seq in a.seqs]

    def shares(self) -> list[tuple]:
        return [event[1:] for event in self.ctx.events if event[0] == "share"]

    def steps_with(self, char: str) -> list[int]:
        """The steps that decoded this character (a prompt's or an answer's)."""
        return [i for i, step in enumerate(self.ctx.steps) if any(a.token == ord(char) for a in step)]


@pytest.fixture
def bench() -> Iterator[Callable[..., Bench]]:
    made: list[Bench] = []

    def make(*args, **kwargs) -> Bench:
        made.append(Bench(*args, **kwargs))
        return made[-1]

    yield make
    for b in made:
        b.ctx.release()
        b.scheduler.close(SAFETY)
        assert not b.ctx.errors, b.ctx.errors


# -- admission and the queue -------------------------------------------------------------------


def test_up_to_parallel_run_together_and_the_rest_wait(bench) -> None:
    b = bench(parallel=2)
    b.ctx.hold()
    jobs = [job(p, budget=3) for p in ("Aa", "Bb", "Cc")]
    b.together(*jobs)
    b.held()
    assert b.admitted() == ["Aa", "Bb"] and b.scheduler.waiting == 1
    assert {a.seqs for a in b.ctx.steps[0]} == {(0,), (1,)}  # the first step reads both prompts
    b.ctx.release()
    wait_all(*jobs)
    assert [client(j).text for j in jobs] == ["aaa", "bbb", "ccc"]  # each its own, to the budget
    assert all(client(j).finish == Finish("length", 2, 3) for j in jobs)
    assert b.scheduler.stats["most_running"] == 2 and not b.scheduler.busy


def test_beyond_the_queue_a_request_is_refused_at_once(bench) -> None:
    b = bench(parallel=2, max_queue=1)
    b.ctx.hold()
    first = [job(p, budget=2) for p in ("Aa", "Bb", "Cc")]  # two about to start do not count as waiting
    b.together(*first)
    b.held()
    with pytest.raises(QueueFull):
        b.scheduler.submit(job("Dd"))
    b.ctx.release()
    wait_all(*first)
    assert b.admitted() == ["Aa", "Bb", "Cc"]
    b.run(late := job("Ee", budget=2))  # room again
    assert client(late).text == "ee"


def test_one_persons_ten_requests_do_not_hold_back_anothers_and_turns_go_round(bench) -> None:
    b = bench(parallel=1, max_queue=16)
    b.ctx.hold()
    b.scheduler.submit(running := job("A0", owner="anna", budget=2))
    b.held()  # anna holds the only sequence
    hers = [job(f"A{i}", owner="anna", budget=1) for i in range(1, 11)]
    others = [job("B1", owner="ben", budget=1), job("B2", owner="ben", budget=1), job("C1", owner="cem", budget=1)]
    for j in [*hers, *others]:  # anna's ten first
        b.scheduler.submit(j)
    b.ctx.release()
    wait_all(running, *hers, *others)
    assert b.admitted() == ["A0", "B1", "C1", "A1", "B2", *(f"A{i}" for i in range(2, 11))]


def test_a_request_waits_for_kv_room_and_nobody_overtakes_it(bench) -> None:
    b = bench(parallel=4, cells=100)
    b.ctx.hold()
    b.scheduler.submit(big := job("A" * 10, owner="anna", budget=60))  # 70 cells held from the start
    b.held()
    second = job("B" * 10, owner="ben", budget=50)  # 60 more do not fit
    small = job("C" * 10, owner="cem", budget=10)  # 20 would, but it came later
    for j in (second, small):
        b.scheduler.submit(j)
    for _ in range(3):
        b.held(1)
        assert b.scheduler.waiting == 2 and b.admitted() == ["A" * 10]
    b.ctx.release()
    wait_all(big, second, small)
    assert b.admitted() == ["A" * 10, "B" * 10, "C" * 10]
    assert max(b.steps_with("A")) < min(b.steps_with("B")) <= min(b.steps_with("C"))  # after all of big
    assert [client(j).finish.completion_tokens for j in (big, second, small)] == [60, 50, 10]


# -- cancellation ------------------------------------------------------------------------------


def test_a_request_cancelled_while_queued_never_runs(bench) -> None:
    b = bench(parallel=1)
    b.ctx.hold()
    b.scheduler.submit(running := job("Aa", budget=3))
    b.held()
    b.scheduler.submit(queued := job("Bb", budget=3))
    assert b.scheduler.waiting == 1
    b.scheduler.cancel(queued)
    assert b.scheduler.waiting == 0 and client(queued).events == [DONE]
    b.ctx.release()
    wait_all(running)
    assert b.admitted() == ["Aa"] and not b.scheduler.busy


def test_a_running_request_cancelled_frees_its_sequence_and_the_others_go_on(bench) -> None:
    b = bench(parallel=2)
    b.ctx.hold()
    gone, stays = job("Aa", budget=1000), job("Bb", budget=6)
    b.together(gone, stays)
    b.held(1)
    b.scheduler.cancel(gone)
    b.held(1)  # this step drops it
    assert ("forget", gone.seq) in b.ctx.events and b.ctx.tokens(gone.seq) == []
    assert isinstance(client(gone).finish, Finish) and client(gone).finish.reason == "cancelled"
    assert b.backend.samplers[0].freed
    assert gone.seq not in {s for a in b.ctx.steps[-1] for s in a.seqs}
    b.scheduler.submit(after := job("Cc", budget=2))
    b.ctx.release()
    wait_all(stays, after)
    assert after.seq == gone.seq  # its sequence serves the next request, empty
    assert client(stays).text == "bbbbbb" and client(after).text == "cc"
    assert all(s.freed for s in b.backend.samplers) and b.ctx.used_cells == 0


def test_a_client_whose_event_loop_is_gone_is_cancelled(bench) -> None:
    b = bench(parallel=1)

    def gone(item: object) -> None:
        raise RuntimeError("Event loop is closed")

    b.scheduler.submit(Job(tokens=text_tokens("Aa"), budget=1000, stops=[], sampling=GREEDY, owner="anna",
                           emit=gone))
    b.run(nxt := job("Bb", budget=2))  # it waits for the only sequence, which the lost one frees
    assert client(nxt).text == "bb" and len(b.ctx.steps) < 10


def test_close_ends_requests_that_wait_to_be_read_together(bench) -> None:
    b = bench()
    waiting = job("Aa")
    with b.scheduler.preparing():  # the scheduler gathers, for others on their way
        b.scheduler.submit(waiting)
        b.scheduler.close(SAFETY)
    wait_all(waiting)
    assert client(waiting).finish == Finish("cancelled", 2, 0) and b.ctx.steps == []
    with pytest.raises(RuntimeError):
        b.scheduler.submit(job("Bb"))


# -- prefixes ----------------------------------------------------------------------------------

SYSTEM = "You are kind. Answer briefly. "  # 30 tokens, the part requests share
HEADER = "|user|"


def prompt(question: str, system: str = SYSTEM) -> tuple[str, int]:
    """A prompt and how much of it is shared: the system text and the header of the first turn."""
    return system + HEADER + question, len(system + HEADER)


def test_a_second_request_shares_the_kept_prefix_and_skips_reading_it(bench) -> None:
    (p1, n), (p2, _) = prompt("one?"), prompt("two?")
    b = bench(scripted({p1: "first", p2: "second"}))
    b.run(first := job(p1, shared=n, owner="anna"))
    before = len(b.ctx.steps)
    b.run(second := job(p2, shared=n, owner="ben"))
    assert (client(first).text, client(second).text) == ("first", "second")  # its sequence held the prefix
    kept = b.scheduler.prefixes.entries[0]
    assert b.shares() == [(first.seq, kept.seq, n), (kept.seq, second.seq, n)]
    assert b.added(second.seq, before)[: len(p2) - n] == list(enumerate(text_tokens(p2)))[n:]  # after the prefix
    assert (b.scheduler.stats["prefix_hits"], b.scheduler.stats["prefix_tokens_reused"]) == (1, n)


def test_a_persons_own_system_prompt_is_not_reused_for_another(bench) -> None:
    (p1, n), (p2, _), (p3, _) = prompt("one?"), prompt("two?"), prompt("three?")
    b = bench(scripted({p1: "1", p2: "2", p3: "3"}))
    for p, owner in ((p1, "anna"), (p2, "ben")):
        before = len(b.ctx.steps)
        b.run(j := job(p, shared=n, owner=owner, scope=owner))
        assert b.added(j.seq, before)[: len(p)] == list(enumerate(text_tokens(p)))  # all of it, from the start
    assert b.scheduler.stats["prefix_hits"] == 0
    b.run(again := job(p3, shared=n, owner="anna", scope="anna"))
    assert b.scheduler.stats["prefix_hits"] == 1 and client(again).text == "3"
    anna_prefix = next(p for p in b.scheduler.prefixes.entries if p.scope == "anna")
    assert b.shares()[-1] == (anna_prefix.seq, again.seq, n)


def test_a_request_arriving_while_its_prefix_is_read_waits_for_it(bench) -> None:
    (p1, n), (p2, _) = prompt("one?"), prompt("two?")
    b = bench(scripted({p1: "first", p2: "second"}), batch_size=16)  # the prefix takes three steps
    b.ctx.hold()
    b.scheduler.submit(first := job(p1, shared=n, owner="anna"))
    b.held()
    b.scheduler.submit(second := job(p2, shared=n, owner="ben"))
    b.ctx.release()
    wait_all(first, second)
    assert (client(first).text, client(second).text) == ("first", "second")
    assert [pos for pos, _ in b.added(second.seq)][:1] == [n]  # it never read the prefix itself
    kept = b.scheduler.prefixes.entries[0]
    assert b.shares() == [(first.seq, kept.seq, n), (kept.seq, second.seq, n)]
    assert b.scheduler.stats["prefix_hits"] == 1


def test_requests_arriving_together_read_their_shared_prefix_once(bench) -> None:
    prompts = [prompt(q) for q in ("one?", "two?", "three?")]
    n = prompts[0][1]
    b = bench(scripted({p: f"answer {i}" for i, (p, _) in enumerate(prompts)}))
    jobs = [job(p, shared=n, owner=f"u{i}") for i, (p, _) in enumerate(prompts)]
    b.together(*jobs)
    wait_all(*jobs)
    assert [client(j).text for j in jobs] == ["answer 0", "answer 1", "answer 2"]
    kept = b.scheduler.prefixes.entries[0]
    first = b.ctx.steps[0]
    assert [a.seqs for a in first[:n]] == [(jobs[0].seq, kept.seq, jobs[1].seq, jobs[2].seq)] * n
    assert [a.position for a in first[:n]] == list(range(n))
    assert len(first) == n + sum(len(p) - n for p, _ in prompts)  # every prompt in the first step
    assert b.shares() == [] and b.scheduler.stats["prefix_hits"] == 2


def three(b: Bench) -> list[Job]:
    """Two requests with the same system prompt and a third whose system prompt starts the same but
    goes on; each answers its number."""
    (p1, n), (p2, _), (p3, n3) = prompt("one?"), prompt("two?"), prompt("three?", SYSTEM + "In English. ")
    b.ctx.writer = scripted({p1: "1", p2: "2", p3: "3"})
    return [job(p1, shared=n, owner="u1"), job(p2, shared=n, owner="u2"), job(p3, shared=n3, owner="u3")]


def test_three_requests_where_one_shares_only_part_of_the_prefix_all_finish(bench) -> None:
    """All three arrive together: the first two read their prefix together, the third reuses what
    it shares. (It once waited forever: only a prefix read alone let its waiters go on.)"""
    b = bench()
    b.together(*(jobs := three(b)))
    wait_all(*jobs)
    assert [client(j).text for j in jobs] == ["1", "2", "3"]
    assert b.scheduler.stats["prefix_hits"] == 2
    short, longer = b.scheduler.prefixes.entries
    assert b.shares()[0] == (short.seq, jobs[2].seq, len(SYSTEM))  # after the step that wrote it
    assert longer.tokens == tuple(jobs[2].tokens[: jobs[2].shared_len]) and longer.ready  # kept as well


def test_a_failed_read_together_does_not_strand_a_request_waiting_for_the_prefix(bench) -> None:
    b = bench()
    b.ctx.fail_next_decode()
    b.together(*(jobs := three(b)))
    wait_all(*jobs)
    assert all(isinstance(client(j).finish, DecodeError) for j in jobs[:2])
    assert client(jobs[2]).text == "3"  # read its prompt itself
    (kept,) = b.scheduler.prefixes.entries  # the third's own: the one never written is gone
    assert kept.tokens == tuple(jobs[2].tokens[: jobs[2].shared_len])
    b.run(again := job("".join(map(chr, jobs[1].tokens)), shared=jobs[1].shared_len, owner="u4"))
    assert client(again).text == "2"


def test_the_least_recently_used_idle_prefix_makes_room(bench) -> None:
    b = bench(prefix_slots=2)
    for system in ("A" * 20, "B" * 20, "A" * 20, "C" * 20):
        p, n = prompt("?", system)
        b.run(job(p, shared=n, budget=1))
    kept = {p.tokens[0] for p in b.scheduler.prefixes.entries}
    assert kept == {ord("A"), ord("C")}  # B was used least recently
    assert b.scheduler.stats["prefix_hits"] == 1


# -- text --------------------------------------------------------------------------------------


def test_a_stop_string_across_tokens_cuts_exactly_and_nothing_of_it_goes_out(bench) -> None:
    b = bench(scripted({"Hi": "ab ENDx cd ENDE tail"}))
    b.run(j := job("Hi", budget=50, stops=("ENDE",)))
    deltas = [e.text for e in client(j).events if isinstance(e, TextDelta)]
    assert deltas == ["a", "b", " ", "ENDx", " ", "c", "d", " "]  # "END" held back until it could not be a stop
    assert client(j).finish == Finish("stop", 2, len("ab ENDx cd ENDE"))


def test_a_character_split_between_tokens_comes_out_whole(bench) -> None:
    b = bench(scripted({"Hi": [0x110001, 0x110002, ord("!")]}), pieces={0x110001: b"\xc3", 0x110002: b"\xa4"})
    b.run(j := job("Hi", budget=50))
    assert [e.text for e in client(j).events if isinstance(e, TextDelta)] == ["ä", "!"]
    assert client(j).finish == Finish("stop", 2, 3)  # the end token is not counted


def test_many_requests_sliced_into_small_batches_each_read_only_their_own(bench) -> None:
    """Twelve requests of three people, four at a time, in batches of 16: long prompts are read in
    slices while others write, and every answer comes from its own prompt."""
    prompts = {f"{chr(65 + i)}{'x' * (5 + 7 * i)}{i}": f"<{i}>" for i in range(12)}
    b = bench(scripted(prompts), batch_size=16, max_queue=12)
    jobs = [job(p, owner=f"u{i % 3}", budget=20) for i, p in enumerate(prompts)]
    b.together(*jobs)
    wait_all(*jobs)
    assert [client(j).text for j in jobs] == list(prompts.values())
    assert max(len(step) for step in b.ctx.steps) <= 16 and b.ctx.used_cells == 0
