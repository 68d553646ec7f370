"""A load generator for the chat API: asyncio + httpx, loopback only, bounded in count and time.

``closed_loop`` keeps ``concurrency`` streamed requests in flight (each worker sends its next request
when the last one has ended) until every worker has sent ``per_worker`` requests or the deadline
has passed; ``burst`` sends many at once. Each request is timed from sending to its first text and
to its end; the completion tokens come from the stream's usage chunk.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass
class Sample:
    started: float
    ended: float
    first: float | None = None
    tokens: int = 0
    status: int = 0
    retry_after: str | None = None
    first_of_worker: bool = False

    @property
    def ttft(self) -> float | None:
        return None if self.first is None else self.first - self.started

    @property
    def total(self) -> float:
        return self.ended - self.started


def loopback_only(url: str) -> None:
    if urlsplit(url).hostname not in LOOPBACK:
        raise ValueError(f"the load generator only talks to this machine (loopback), not {url}")


def chat_body(model: str, messages: list[dict], max_tokens: int, **extra: object) -> dict:
    return {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, **extra}


async def one(client: httpx.AsyncClient, url: str, key: str, body: dict) -> Sample:
    sample = Sample(started=time.perf_counter(), ended=0.0)
    async with client.stream("POST", f"{url}/v1/chat/completions", json=body,
                             headers={"Authorization": f"Bearer {key}"}) as r:
        sample.status = r.status_code
        sample.retry_after = r.headers.get("retry-after")
        if r.status_code == 200:
            async for line in r.aiter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line[6:])
                if chunk.get("usage"):
                    sample.tokens = chunk["usage"]["completion_tokens"]
                elif sample.first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    sample.first = time.perf_counter()
        else:
            await r.aread()
    sample.ended = time.perf_counter()
    return sample


async def closed_loop(url: str, key: str, bodies: list[dict], concurrency: int, per_worker: int,
                      deadline_s: float) -> list[Sample]:
    """``concurrency`` workers, each sending bodies (round robin) back to back."""
    loopback_only(url)
    deadline = time.perf_counter() + deadline_s
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=concurrency + 4)

    async def worker(w: int, client: httpx.AsyncClient) -> None:
        for i in range(per_worker):
            if time.perf_counter() > deadline:
                return
            sample = await one(client, url, key, bodies[(w * per_worker + i) % len(bodies)])
            sample.first_of_worker = i == 0
            samples.append(sample)

    async with httpx.AsyncClient(timeout=deadline_s + 60, limits=limits) as client:
        await asyncio.gather(*(worker(w, client) for w in range(concurrency)))
    return samples


async def burst(url: str, key: str, body: dict, count: int, timeout_s: float) -> list[Sample]:
    """``count`` requests sent at once."""
    loopback_only(url)
    limits = httpx.Limits(max_connections=count + 4)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, url, key, body) for _ in range(count))))


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summary(samples: list[Sample]) -> dict:
    ok = [s for s in samples if s.status == 200 and s.first is not None]
    span = max(s.ended for s in ok) - min(s.started for s in ok)
    tokens = sum(s.tokens for s in ok)
    ttft = [s.ttft for s in ok]
    total = [s.total for s in ok]
    later = [s for s in ok if not s.first_of_worker]  # after the first wave, which arrives all at once
    return {
        "ttft_p95_after_first_wave_s": round(nearest_rank([s.ttft for s in later], 0.95), 3) if later else None,
        "requests": len(ok),
        "refused": len(samples) - len(ok),
        "tokens": tokens,
        "aggregate_tokens_per_s": round(tokens / span, 2),
        "ttft_p50_s": round(nearest_rank(ttft, 0.5), 3),
        "ttft_p95_s": round(nearest_rank(ttft, 0.95), 3),
        "total_p50_s": round(nearest_rank(total, 0.5), 3),
        "total_p95_s": round(nearest_rank(total, 0.95), 3),
    }
