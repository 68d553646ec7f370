"""`make bench`: the appliance's API against the raw libraries, same machine, same run.

Measures (as ratios, never as pass/fail timings in tests):
- chat (benchmarks/chat.py): the batching engine through /v1/chat/completions against raw llama.cpp's
  low-level decode loop: one stream, 1-16 concurrent streams, prefix reuse, fixed cost per request;
- embedding throughput through /v1/embeddings / sentence-transformers' encode on the same texts.

Results go to benchmarks/results/latest.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import appliance  # noqa: F401  (telemetry off first)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import chat  # noqa: E402
from benchmarks.report import save  # noqa: E402
from tests.support.server import LiveServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2.5-coder-1.5b-instruct-q4_k_m")
    parser.add_argument("--tokens", type=int, default=64, help="answer length of each request")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-worker", type=int, default=3, help="requests each concurrent client sends")
    args = parser.parse_args()

    from appliance.engines import load_engines
    from models.catalog import load_catalog
    from tests.support.settings import make_settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), chat=[args.model], context_size=2048, threads=0,
                                 parallel=max(chat.LEVELS), max_queue=64, speech=[])
        path = settings.models_dir / args.model / load_catalog(settings.models_dir).get(args.model).main_file.name
        engines = load_engines(settings)
        threads = engines.chat(args.model).threads
        import llama_cpp

        results: dict = {"model": args.model, "tokens": args.tokens, "runs": args.runs, "threads": threads,
                         "llama_cpp_gpu": bool(llama_cpp.llama_supports_gpu_offload()),
                         "context_size": settings.models.context_size,
                         "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                         "load_average_start": round(os.getloadavg()[0], 2), "date": time.strftime("%Y-%m-%d")}
        results["embeddings"] = embeddings_bench(engines, settings)
        results["chat"] = chat.measure(engines, settings, args.model, path, threads, args.tokens, args.runs,
                                       args.per_worker)
        results["load_average_end"] = round(os.getloadavg()[0], 2)

    save(results, "latest.json", "benchmarks.md", markdown(results))


def embeddings_bench(engines, settings) -> dict:
    """Texts/s through /v1/embeddings against encode() of the same model on the same texts."""
    import httpx

    from appliance.server import create_app

    texts = [f"Absatz {i}: Händedesinfektion vor und nach jedem Kontakt mit Bewohnerinnen und Bewohnern."
             for i in range(256)]
    embedder = engines.embedder
    model = embedder._model
    model.encode(texts, batch_size=32, normalize_embeddings=True)  # warm-up on the same texts, as for the API
    start = time.perf_counter()
    model.encode(texts, batch_size=32, normalize_embeddings=True)
    raw = len(texts) / (time.perf_counter() - start)
    app = create_app(settings, engines=engines, mount_ui=False)
    app.state.services.accounts.add("bench2", "it_admin", "bench-password")
    key, _ = app.state.services.accounts.create_key("bench2")
    with LiveServer(app) as server, httpx.Client(timeout=600) as client:
        client.post(f"{server.url}/v1/embeddings", json={"input": texts},
                    headers={"Authorization": f"Bearer {key}"}).raise_for_status()
        start = time.perf_counter()
        client.post(f"{server.url}/v1/embeddings", json={"input": texts},
                    headers={"Authorization": f"Bearer {key}"}).raise_for_status()
        api = len(texts) / (time.perf_counter() - start)
    return {"api_texts_per_s": round(api, 1), "raw_texts_per_s": round(raw, 1), "ratio": round(api / raw, 3)}


def markdown(r: dict) -> str:
    e = r["embeddings"]
    gpu = ("built with CUDA, every layer on the GPU" if r["llama_cpp_gpu"] else
           "built for the CPU (no NVIDIA GPU on this machine: the GPU figures of a 7-8B model are still to be"
           " recorded on a box that has one; `make bench` runs there unchanged)")
    return f"""# Benchmarks

Measured by `make bench` ({r['date']}, {r['machine']}, load average {r['load_average_start']} at the
start and {r['load_average_end']} at the end). Ratios compare the appliance with the raw library in
the same run.

## Chat (batching engine)

Model `{r['model']}`, {r['threads']} threads, context {r['context_size']} tokens per request, answers of
{r['tokens']} tokens, medians of {r['runs']} runs; llama.cpp {gpu}.
{chat.markdown(r['chat'])}
## Embeddings

| measurement | appliance (HTTP API) | raw library | ratio |
|---|---|---|---|
| embeddings (texts/s, 256 texts) | {e['api_texts_per_s']} \
| {e['raw_texts_per_s']} (sentence-transformers `encode`) | {e['ratio']} |

Raw JSON: `benchmarks/results/latest.json`.
"""


if __name__ == "__main__":
    main()
