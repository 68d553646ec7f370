"""A burst of 200 chat requests against the real service process (`appliance serve` with the small
real model, 4 sequences at once and 32 waiting places): each is answered 200 or 503 with Retry-After,
none hangs, the service answers normally afterwards, and its memory comes back to where it was after a
warm-up burst of the same size."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.paths import TEST_CHAT, require_models
from tests.support.service import Service, make_accounts

pytestmark = pytest.mark.models

BURST = 200
QUEUE = 32
PARALLEL = 4
TOKENS = 8
DEADLINE_S = 240  # for a whole burst on a busy two-core machine; a hang shows as this running out
STORY = [{"role": "user", "content": "Tell a very long story about a lighthouse."}]


def rss_mb(service: Service) -> float:
    """The service process's resident memory, from Linux's /proc."""
    with open(f"/proc/{service.process.pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


@pytest.fixture
def key(tmp_path: Path) -> str:
    """A staff member's API key, made on the data directory before the service starts."""
    return make_accounts(tmp_path / "data", "geheim123", anna="staff")[0]


@pytest.fixture
def service(tmp_path: Path, key: str) -> Iterator[Service]:
    """`python -m appliance serve` on its own data directory: only the small chat model."""
    require_models(TEST_CHAT)
    settings = {"models.parallel": str(PARALLEL), "models.max_queue": str(QUEUE)}
    with Service(tmp_path / "data", tmp_path / "service.log", settings) as service:
        yield service


@dataclass
class Outcome:
    status: int
    tokens: int = 0
    retry_after: str | None = None
    code: str | None = None


async def _ask(client: httpx.AsyncClient, stream: bool) -> Outcome:
    body = {"model": TEST_CHAT, "messages": STORY, "max_tokens": TOKENS, "temperature": 0, "stream": stream,
            "stream_options": {"include_usage": True} if stream else None}
    async with client.stream("POST", "/v1/chat/completions", json=body) as r:
        outcome = Outcome(r.status_code, retry_after=r.headers.get("retry-after"))
        if r.status_code == 200 and stream:
            async for line in r.aiter_lines():
                if line.startswith("data: {") and (usage := json.loads(line[6:]).get("usage")):
                    outcome.tokens = usage["completion_tokens"]
        else:
            answer = json.loads(await r.aread())
            if r.status_code == 200:
                outcome.tokens = answer["usage"]["completion_tokens"]
            else:
                outcome.code = answer.get("error", {}).get("code")
    return outcome


async def _burst(service: Service, key: str) -> list[Outcome]:
    """BURST requests at once, streamed and not in turn; all of them within DEADLINE_S or it fails."""
    async with httpx.AsyncClient(base_url=service.url, timeout=DEADLINE_S,
                                 limits=httpx.Limits(max_connections=BURST + 4),
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        return await asyncio.wait_for(asyncio.gather(*(_ask(client, i % 2 == 0) for i in range(BURST))),
                                      DEADLINE_S)


def test_a_burst_of_200_is_served_or_refused_and_leaves_no_trace(service: Service, key: str) -> None:
    asyncio.run(_burst(service, key))  # warm-up: the allocator's pools and the server's threads grow once
    before = rss_mb(service)

    outcomes = asyncio.run(_burst(service, key))
    statuses = {o.status for o in outcomes}
    assert statuses <= {200, 503}, statuses
    served = [o for o in outcomes if o.status == 200]
    refused = [o for o in outcomes if o.status == 503]
    assert len(served) >= PARALLEL + QUEUE, len(served)  # the first 36 always find a place
    assert refused, "200 at once should overflow 4 sequences and 32 waiting places"
    assert all(o.tokens == TOKENS for o in served)  # every answer that began was written to the end
    assert all(o.retry_after and int(o.retry_after) > 0 and o.code == "queue_full" for o in refused)

    with httpx.Client(base_url=service.url, timeout=60,
                      headers={"Authorization": f"Bearer {key}"}) as http:
        r = http.post("/v1/chat/completions", json={"messages": STORY, "max_tokens": TOKENS, "temperature": 0})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == TOKENS
    after = rss_mb(service)
    assert after <= before * 1.10, f"memory grew from {before:.0f} MB to {after:.0f} MB"
    assert "Traceback" not in service.log.read_text(errors="replace"), service.log.read_text(errors="replace")
