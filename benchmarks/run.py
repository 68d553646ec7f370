"""`make bench`: the appliance's API against the raw libraries, same machine, same run.

Measures (as ratios, never as pass/fail timings in tests):
- chat decode tokens/s of one streamed request through the HTTP API / a raw llama.cpp loop
  (Llama.generate on the same prompt tokens, same model file, threads and context);
- fixed overhead per chat request (HTTP, auth, template, tokenizing) in ms;
- embedding throughput through /v1/embeddings / sentence-transformers' encode on the same texts.

Results go to benchmarks/results/latest.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import appliance  # noqa: F401  (telemetry off first)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import save  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402

PROMPT = "Schreibe einen ausführlichen Bericht über einen Tag in einem Pflegeheim."


def raw_decode(llm, prompt_tokens: list[int], n: int) -> tuple[float, float]:
    """Seconds for prompt + first token, and decode tokens/s after it, with llama.cpp alone."""
    llm.reset()
    start = time.perf_counter()
    first = None
    count = 0
    for _ in llm.generate(prompt_tokens, temp=0.0, top_k=1, min_p=0.0, repeat_penalty=1.0, reset=True):
        count += 1
        if first is None:
            first = time.perf_counter()
        if count >= n:
            break
    end = time.perf_counter()
    return first - start, (count - 1) / (end - first)


def api_decode(url: str, key: str, model: str, n: int) -> tuple[float, float, int]:
    import httpx

    body = {"model": model, "stream": True, "max_tokens": n, "temperature": 0,
            "messages": [{"role": "user", "content": PROMPT}], "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    first = None
    tokens = 0
    with httpx.Client(timeout=600) as client, client.stream(
        "POST", f"{url}/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}
    ) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
            elif chunk["choices"] and chunk["choices"][0]["delta"].get("content") and first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    return first - start, (tokens - 1) / (end - first), tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m")
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import tempfile

    from appliance.engines import load_engines
    from appliance.server import create_app
    from models.catalog import load_catalog
    from tests.conftest import make_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), chat=[args.model], context_size=2048, threads=0)
        engines = load_engines(settings)
        chat = engines.chat(args.model)
        from models.chat import Message

        prompt_tokens = chat._prompt([Message("user", PROMPT)])[0]
        app = create_app(settings, engines=engines, mount_ui=False)
        app.state.accounts.add("bench", "it_admin", "bench-password")
        key, _ = app.state.accounts.create_key("bench")
        threads = chat.threads
        path = settings.models_dir / args.model / load_catalog(settings.models_dir).get(args.model).main_file.name
        results: dict = {"model": args.model, "tokens": args.tokens, "runs": args.runs,
                         "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores",
                         "date": time.strftime("%Y-%m-%d")}
        with LiveServer(app) as server:
            api_decode(server.url, key, args.model, 4)  # warm-up
            api = [api_decode(server.url, key, args.model, args.tokens) for _ in range(args.runs)]
            one = [api_decode(server.url, key, args.model, 1)[0] for _ in range(args.runs)]
        from llama_cpp import Llama

        llm = Llama(model_path=str(path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False)
        raw_decode(llm, prompt_tokens, 4)  # warm-up, as for the API
        raw = [raw_decode(llm, prompt_tokens, args.tokens) for _ in range(args.runs)]
        llm.close()
        api_tps = statistics.median(a[1] for a in api)
        raw_tps = statistics.median(r[1] for r in raw)
        results["chat"] = {
            "api_decode_tokens_per_s": round(api_tps, 2),
            "raw_decode_tokens_per_s": round(raw_tps, 2),
            "decode_ratio": round(api_tps / raw_tps, 3),
            "api_time_to_first_token_s": round(statistics.median(a[0] for a in api), 3),
            "raw_time_to_first_token_s": round(statistics.median(r[0] for r in raw), 3),
            "overhead_per_request_ms": round(
                (statistics.median(one) - statistics.median(r[0] for r in raw)) * 1000, 1),
        }
        results["embeddings"] = embeddings_bench(engines, settings)
        engines.close()

    save(results, "latest.json", "benchmarks.md", markdown(results))


def embeddings_bench(engines, settings) -> dict:
    """Texts/s through /v1/embeddings against encode() of the same model on the same texts."""
    import httpx

    from appliance.server import create_app

    texts = [f"Absatz {i}: Händedesinfektion vor und nach jedem Kontakt mit Bewohnerinnen und Bewohnern."
             for i in range(256)]
    embedder = engines.embedder
    model = embedder._model
    model.encode(texts[:8])
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    raw = len(texts) / (time.perf_counter() - start)
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.accounts.add("bench2", "it_admin", "bench-password")
    key, _ = app.state.accounts.create_key("bench2")
    with LiveServer(app) as server, httpx.Client(timeout=600) as client:
        client.post(f"{server.url}/v1/embeddings", json={"input": texts[:8]},
                    headers={"Authorization": f"Bearer {key}"}).raise_for_status()
        start = time.perf_counter()
        client.post(f"{server.url}/v1/embeddings", json={"input": texts},
                    headers={"Authorization": f"Bearer {key}"}).raise_for_status()
        api = len(texts) / (time.perf_counter() - start)
    return {"api_texts_per_s": round(api, 1), "raw_texts_per_s": round(raw, 1), "ratio": round(api / raw, 3)}


def markdown(r: dict) -> str:
    c, e = r["chat"], r["embeddings"]
    return f"""# Benchmarks

Measured by `make bench` ({r['date']}, {r['machine']}, model `{r['model']}`, {r['tokens']} tokens,
median of {r['runs']} runs). Ratios compare the appliance with the raw library in the same run.

| measurement | appliance (HTTP API) | raw library | ratio |
|---|---|---|---|
| chat decode, one stream (tokens/s) | {c['api_decode_tokens_per_s']} \
| {c['raw_decode_tokens_per_s']} (llama.cpp `generate`) | {c['decode_ratio']} |
| chat time to first token (s) | {c['api_time_to_first_token_s']} | {c['raw_time_to_first_token_s']} | |
| fixed overhead per chat request (ms) | {c['overhead_per_request_ms']} | | |
| embeddings (texts/s, 256 texts) | {e['api_texts_per_s']} \
| {e['raw_texts_per_s']} (sentence-transformers `encode`) | {e['ratio']} |

Raw JSON: `benchmarks/results/latest.json`. Concurrency (aggregate tokens/s at 4-16 streams) and
prefix reuse are measured once the batching engine lands.
"""


if __name__ == "__main__":
    main()
