"""`make bench`, chat: the batching engine through the HTTP API against raw llama.cpp.

Same model file, threads and context size in one run:
- raw llama.cpp: a decode loop through the low-level API (llama_decode on one token at a time,
  greedy sampler), and the same loop over 4, 8 and 16 sequences in one batch (what the hardware
  allows, decode only);
- the appliance: one streamed request through /v1/chat/completions (decode tokens/s after the
  first token), then 1, 4, 8 and 16 streams kept in flight by the load generator (aggregate tokens/s,
  time to first token, total time per request), a request whose 1,000-token system prompt an earlier
  request of the same caller already had (time to first token against a cold one), and the fixed
  cost per request (HTTP, auth, template, tokenizing): time to the first token of a one-token answer
  minus raw llama.cpp's time for the same prompt.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

from benchmarks.load import chat_body, closed_loop, one, summary

LEVELS = (1, 4, 8, 16)
TOPICS = ["einen Tag in einem Pflegeheim", "einen Ausflug mit der Kita-Gruppe in den Zoo",
          "die Einarbeitung neuer Pflegekräfte", "ein Sommerfest im Seniorenzentrum",
          "die Eingewöhnung in der Krippe", "einen Beratungstermin zur Schuldnerberatung",
          "die Hygieneschulung im Team", "den Umzug einer Wohngruppe"]


def prompt(i: int) -> list[dict]:
    return [{"role": "user", "content": f"Schreibe einen ausführlichen Bericht über {TOPICS[i % len(TOPICS)]}."}]


# -- raw llama.cpp ------------------------------------------------------------------------------


class RawLlama:
    """llama.cpp's low-level API and nothing else: the baseline."""

    def __init__(self, path: Path, context: int, threads: int, sequences: int) -> None:
        import llama_cpp as L

        self.L = L
        L.llama_backend_init()
        mp = L.llama_model_default_params()
        mp.n_gpu_layers = -1
        self.model = L.llama_model_load_from_file(str(path).encode(), mp)
        cp = L.llama_context_default_params()
        cp.n_ctx = context * sequences
        cp.n_batch = cp.n_ubatch = 512
        cp.n_seq_max = sequences
        cp.n_threads = cp.n_threads_batch = threads
        cp.no_perf = True
        self.ctx = L.llama_init_from_model(self.model, cp)
        self.batch = L.llama_batch_init(512, 0, 1)
        self.sampler = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        L.llama_sampler_chain_add(self.sampler, L.llama_sampler_init_greedy())

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        b = self.batch
        for i, (token, pos, seq, logits) in enumerate(entries):
            b.token[i], b.pos[i], b.n_seq_id[i], b.logits[i] = token, pos, 1, logits
            b.seq_id[i][0] = seq
        b.n_tokens = len(entries)
        if self.L.llama_decode(self.ctx, b) != 0:
            raise RuntimeError("llama_decode failed")

    def run(self, prompt_tokens: list[int], n: int, sequences: int = 1, cached: int = 0) -> tuple[float, float]:
        """Seconds to the first token (prompt read, first token sampled) and decode tokens/s after it
        (all sequences together). ``cached``: that many prompt tokens are read before the clock starts,
        as the appliance has them from an earlier request."""
        L = self.L
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)
        m = len(prompt_tokens)
        if cached:
            self._decode([(t, p, 0, False) for p, t in enumerate(prompt_tokens[:cached])])
        start = time.perf_counter()
        for s in range(sequences):
            begin = cached if s == 0 else 0
            self._decode([(prompt_tokens[p], p, s, p == m - 1) for p in range(begin, m)])
        last = [L.llama_sampler_sample(self.sampler, self.ctx, m - 1 - (cached if sequences == 1 else 0))] * sequences
        first = time.perf_counter()
        for step in range(n - 1):
            self._decode([(last[s], m + step, s, True) for s in range(sequences)])
            last = [L.llama_sampler_sample(self.sampler, self.ctx, s) for s in range(sequences)]
        end = time.perf_counter()
        return first - start, sequences * (n - 1) / (end - first) if n > 1 else 0.0

    def close(self) -> None:
        L = self.L
        L.llama_sampler_free(self.sampler)
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        L.llama_model_free(self.model)


# -- through the API ----------------------------------------------------------------------------


async def api_run(url: str, key: str, model: str, tokens: int) -> tuple[float, float]:
    """Time to the first text and decode tokens/s after it, for one streamed request."""
    import httpx

    async with httpx.AsyncClient(timeout=600) as client:
        s = await one(client, url, key, chat_body(model, prompt(0), tokens))
    return s.ttft, (s.tokens - 1) / (s.ended - s.first) if tokens > 1 else 0.0


def handbook_text(seed: int, tokens: int) -> str:
    """About ``tokens`` tokens of instructions, different for each seed from the first word on."""
    rules = ["Hände vor und nach jedem Kontakt desinfizieren.", "Handschuhe nach jedem Bewohner wechseln.",
             "Flächen im Zimmer täglich wischen.", "Wäsche bei 60 Grad waschen.",
             "Besuch bei Ausbruch auf die Zimmer begrenzen.", "Die Hygienebeauftragte sofort informieren."]
    lines = [f"Hygieneplan Nr. {seed}: Regeln für Wohnbereich {seed}."]
    n = 0
    while len(" ".join(lines)) < tokens * 4:
        lines.append(f"Regel {n + 1}: {rules[n % len(rules)]}")
        n += 1
    return "\n".join(lines)


async def prefix_reuse(url: str, key: str, model: str, runs: int) -> dict:
    import httpx

    cold, warm = [], []
    async with httpx.AsyncClient(timeout=600) as client:
        for r in range(runs):
            system = {"role": "system", "content": handbook_text(1000 + r, 1000)}
            first = [system, {"role": "user", "content": "Was gilt für Handschuhe?"}]
            second = [system, {"role": "user", "content": "Wer wird bei einem Ausbruch informiert?"}]
            cold.append((await one(client, url, key, chat_body(model, first, 1))).ttft)
            warm.append((await one(client, url, key, chat_body(model, second, 1))).ttft)
    return {"cold_ttft_s": statistics.median(cold), "warm_ttft_s": statistics.median(warm),
            "ratio": statistics.median(w / c for w, c in zip(warm, cold, strict=True))}


LENGTHS = (1.0, 0.75, 1.25, 0.875, 1.125, 0.8, 1.2, 1.0)
"""Answer lengths vary around --tokens as people's do, so the clients do not stay in lockstep."""


async def levels(url: str, key: str, model: str, tokens: int, per_worker: int, stats) -> dict:
    """Each level's figures, with a profile of the engine's steps meanwhile (``stats``: the model's)."""
    bodies = [chat_body(model, prompt(i), round(tokens * LENGTHS[i])) for i in range(len(TOPICS))]
    out = {}
    for n in LEVELS:
        before = stats()
        samples = await closed_loop(url, key, bodies, n, per_worker, deadline_s=600)
        after = stats()
        d = {k: after[k] - before[k] for k in after}
        out[n] = summary(samples)
        out[n]["profile"] = {
            "ms_per_step_writing_only": round(1000 * d["writing_seconds"] / max(d["writing_steps"], 1), 1),
            "tokens_written_per_step": round(d["tokens_written"] / max(d["steps"], 1), 1),
            "ms_per_prompt_token_in_reading_steps": round(
                1000 * d["reading_seconds"] / max(d["prompt_tokens_read"], 1), 2),
            "prompt_tokens_read": int(d["prompt_tokens_read"]),
            "share_of_time_reading": round(
                d["reading_seconds"] / max(d["reading_seconds"] + d["writing_seconds"], 1e-9), 2),
        }
    return out


def measure(engines, settings, model_id: str, path: Path, threads: int, tokens: int, runs: int,
            per_worker: int) -> dict:
    from appliance.server import create_app
    from models.chat import Message
    from tests.support.server import LiveServer

    chat = engines.chat(model_id)
    messages = [Message("user", prompt(0)[0]["content"])]
    prompt_tokens = chat._prompt(messages)[0]
    shared = chat._shared_len(messages, prompt_tokens)  # the template's opening, kept after the first request
    prefix_tokens = chat.count_prompt_tokens([Message("system", handbook_text(0, 1000)), Message("user", "x")])
    raw = RawLlama(path, settings.models.context_size, threads, max(LEVELS))
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("bench", "it_admin", "bench-password")
    key, _ = app.state.services.accounts.create_key("bench")
    with LiveServer(app) as server:
        api = lambda n: asyncio.run(api_run(server.url, key, model_id, n))  # noqa: E731
        api(4), raw.run(prompt_tokens, 4)  # warm-up
        single_api, single_raw, first_api, first_raw = [], [], [], []
        for _ in range(runs):  # in turns (raw, API, API, raw), so a slower minute of the machine hits both
            single_raw.append(raw.run(prompt_tokens, tokens))
            single_api += [api(tokens), api(tokens)]
            single_raw.append(raw.run(prompt_tokens, tokens))
            first_raw.append(raw.run(prompt_tokens, 1, cached=shared)[0])
            first_api += [api(1)[0], api(1)[0]]
            first_raw.append(raw.run(prompt_tokens, 1, cached=shared)[0])
        loads = asyncio.run(levels(server.url, key, model_id, tokens, per_worker, lambda: chat.stats))
        reuse = asyncio.run(prefix_reuse(server.url, key, model_id, runs))
    engines.close()
    raw_levels = {n: raw.run(prompt_tokens, tokens, n)[1] for n in LEVELS[1:]}
    raw.close()

    api_tps = statistics.median(r[1] for r in single_api)
    raw_tps = statistics.median(r[1] for r in single_raw)
    base = loads[1]["aggregate_tokens_per_s"]
    return {
        "prompt_tokens": len(prompt_tokens),
        "api_decode_tokens_per_s": round(api_tps, 2),
        "raw_decode_tokens_per_s": round(raw_tps, 2),
        "decode_ratio": round(api_tps / raw_tps, 3),
        # each round's own ratio (its two API runs against its two raw runs): how far rounds spread
        "decode_ratio_rounds": [round(statistics.median(r[1] for r in single_api[2 * i:2 * i + 2])
                                      / statistics.median(r[1] for r in single_raw[2 * i:2 * i + 2]), 3)
                                for i in range(runs)],
        "api_time_to_first_token_s": round(statistics.median(r[0] for r in single_api), 3),
        "raw_time_to_first_token_s": round(statistics.median(r[0] for r in single_raw), 3),
        "shared_prefix_tokens": shared,
        "overhead_per_request_ms": round((statistics.median(first_api) - statistics.median(first_raw)) * 1000, 1),
        "levels": {str(n): {**s, "times_one_stream": round(s["aggregate_tokens_per_s"] / base, 2)}
                   for n, s in loads.items()},
        "raw_batch_decode": {str(n): {"tokens_per_s": round(v, 2), "times_one": round(v / raw_tps, 2)}
                             for n, v in raw_levels.items()},
        "prefix": {"tokens": prefix_tokens, "cold_ttft_s": round(reuse["cold_ttft_s"], 3),
                   "warm_ttft_s": round(reuse["warm_ttft_s"], 3), "ratio": round(reuse["ratio"], 3)},
        "p95_ttft_8_over_1": round(loads[8]["ttft_p95_s"] / loads[1]["ttft_p95_s"], 2),
        "p95_ttft_8_over_1_after_first_wave": round(
            loads[8]["ttft_p95_after_first_wave_s"] / loads[1]["ttft_p95_after_first_wave_s"], 2),
        "p95_total_8_over_1": round(loads[8]["total_p95_s"] / loads[1]["total_p95_s"], 2),
    }


def markdown(c: dict) -> str:
    rows = []
    for n, s in c["levels"].items():
        raw = c["raw_batch_decode"].get(n, {"times_one": 1.0})
        rows.append(f"| {n} | {s['requests']} | {s['aggregate_tokens_per_s']} | {s['times_one_stream']} "
                    f"| {raw['times_one']} | {s['ttft_p50_s']} / {s['ttft_p95_s']} "
                    f"({s['ttft_p95_after_first_wave_s']}) | {s['total_p50_s']} / {s['total_p95_s']} |")
    p = c["prefix"]
    prof = c["levels"]["8"]["profile"]
    rounds = ", ".join(str(r) for r in c.get("decode_ratio_rounds", []))
    first_wave = 8 * (c["prompt_tokens"] - c["shared_prefix_tokens"]) + c["shared_prefix_tokens"]
    return f"""
| measurement | appliance (HTTP API) | raw llama.cpp | ratio | target |
|---|---|---|---|---|
| decode, one stream (tokens/s) | {c['api_decode_tokens_per_s']} | {c['raw_decode_tokens_per_s']} \
(low-level decode loop) | {c['decode_ratio']} (rounds: {rounds}) | >= 0.9 |
| time to first token, one stream (s) | {c['api_time_to_first_token_s']} | {c['raw_time_to_first_token_s']} \
(whole prompt) | | |
| fixed overhead per request (ms): first token of a one-token answer, against raw llama.cpp reading \
the same {c['prompt_tokens'] - c['shared_prefix_tokens']} tokens (the template's opening of \
{c['shared_prefix_tokens']} tokens is kept) | {c['overhead_per_request_ms']} | | | |
| time to first token with a {p['tokens']}-token prompt whose system part an earlier request had (s) \
| {p['warm_ttft_s']} (cold: {p['cold_ttft_s']}) | | {p['ratio']} | <= 0.2 |

Concurrent streamed requests (closed loop: each client sends its next request when the last has
ended; {c['prompt_tokens']}-token prompts on eight topics, answers of 0.75-1.25 x the length above, greedy):

| streams | requests | aggregate tokens/s | x one stream | raw batch decode, x one | time to first token p50 / p95 \
(p95 after the first wave) (s) | total per request p50 / p95 (s) |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Targets: x one stream >= 1.4 at 4 and >= 1.6 at 8; p95 at 8 streams <= 4 x p95 at 1: time to first
token {c['p95_ttft_8_over_1']} x ({c['p95_ttft_8_over_1_after_first_wave']} x after the first wave), total
time {c['p95_total_8_over_1']} x. "Raw batch decode" is the same batch loop in llama.cpp alone with every
sequence's prompt already read: what this machine allows.

Profile at 8 streams (the engine's own step timings): a step that only writes takes
{prof['ms_per_step_writing_only']} ms; steps wrote {prof['tokens_written_per_step']} tokens on average; steps that
also read prompts took {prof['ms_per_prompt_token_in_reading_steps']} ms per prompt token
({prof['prompt_tokens_read']} prompt tokens, {int(100 * prof['share_of_time_reading'])} % of the time). On a CPU
reading a prompt is compute-bound: the
first wave, eight requests sent at the same moment, needs about {first_wave} prompt tokens (the template's
opening read once for all, the rest each) before the last of them can start, which alone is several times
one request's {c['prompt_tokens'] - c['shared_prefix_tokens']} tokens; and a request's total time at 8 streams is
bounded by 8 / (x one stream). Where a target above is missed, this is why; a GPU reads prompts
hundreds of times faster.
"""
