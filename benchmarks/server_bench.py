"""``headroom serve`` under load: ``python -m benchmarks.server_bench``.

Clients post at once, over loopback, with concurrency from 1 to 128:

- ``POST /v1/compress`` of a ~30K-token JSON tool output (real rows: vega cars, repeated), each
  request with fresh content (so no cache answers it) -- the issue's load;
- ``POST /v1/chat/completions`` proxied to a loopback upstream (the sample agent conversation).

Each against ``headroom serve`` with 1 and 2 workers (the real command, in its own processes),
and the compress load against the previous, threaded ``http.server`` service of this project
(its source taken from git at ``--old-rev``). Reported: requests per second, p50 / p99 latency,
errors; then whether every key compressed by one worker is answered by every worker. Writes
``benchmarks/results/server.md``. Load and service share this machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks._data import publish
from headroom_core.samples import load_sample_conversation

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "server.md"
CARS = ROOT / "tests" / "data" / "engine_cars_200.json"
CONCURRENCY = (1, 8, 32, 64, 128)
OLD_REV = "de2139f"


def compress_body(index: int) -> dict[str, Any]:
    """A ~30K-token JSON tool output, new content for every index."""
    rows = json.loads(json.loads(CARS.read_text(encoding="utf-8"))["content"])
    rows = [{**row, "batch": index} for row in rows * 3]
    call = {"id": "c1", "type": "function", "function": {"name": "query_cars", "arguments": "{}"}}
    return {
        "model": "gpt-4o",
        "messages": [
            {"role": "user", "content": "Which cars weigh the most?"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps(rows)},
        ],
    }


async def load(
    url: str, path: str, bodies: Callable[[int], dict[str, Any]], concurrency: int, total: int,
    headers: dict[str, str],
) -> dict[str, Any]:
    """``total`` requests, ``concurrency`` at a time: rate, latency percentiles, errors."""
    latencies: list[float] = []
    errors: list[str] = []
    queue = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:

        async def worker() -> None:
            for index in queue:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=bodies(index), headers=headers)
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text[:100]}")
                except httpx.HTTPError as error:
                    errors.append(type(error).__name__)
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    return {
        "rate": total / elapsed,
        "p50": 1000 * statistics.median(ordered),
        "p99": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


@contextmanager
def headroom_serve(workers: int, store: Path, upstream: str) -> Iterator[str]:
    from tests.support.servers import headroom_serve as serve

    args = ["--workers", str(workers), "--store-url", f"sqlite:///{store}",
            "--openai-api-url", f"{upstream}/v1", "--anthropic-api-url", upstream]
    with serve(*args) as served:
        yield served.url


@contextmanager
def old_service(rev: str) -> Iterator[str]:
    """The threaded compress service as it was at ``rev``, on a thread of this process."""
    source = subprocess.run(
        ["git", "show", f"{rev}:headroom_core/server.py"], cwd=ROOT, capture_output=True,
        text=True, check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "old_server.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("old_server", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        server = module.create_server(port=0, api_key="")
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.url
        finally:
            server.shutdown()
            server.server_close()


def every_worker_answers(url: str, tries: int = 16) -> str:
    """Compress once, then ask for the key ``tries`` times (spread over the workers)."""
    body = compress_body(10_000)
    keys = httpx.post(f"{url}/v1/compress", json=body, timeout=120).json()["ccr_hashes"]
    answered = sum(
        httpx.post(f"{url}/v1/retrieve", json={"hash": keys[0]}, timeout=60).status_code == 200
        for _ in range(tries)
    )
    return f"{answered} of {tries} retrievals of a key from another worker answered"


def row(name: str, concurrency: int, total: int, figures: dict[str, Any]) -> str:
    error = f" ({figures['first_error']})" if figures["errors"] else ""
    return (
        f"| {name} | {concurrency} | {total} | {figures['rate']:.1f} | {figures['p50']:.0f} "
        f"| {figures['p99']:.0f} | {figures['errors']}{error} |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    from tests.support.openai_server import RecordingLLMServer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old-rev", default=OLD_REV, help="git revision of the old service")
    parser.add_argument("--per-client", type=int, default=2, help="requests per client")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sample = load_sample_conversation()["messages"]
    lines = [
        "# Server benchmark",
        "",
        "`python -m benchmarks.server_bench`: loopback, load generator and service on the same "
        "2 cores. Compress: ~30K-token JSON, fresh content per request. Proxy: the sample "
        "conversation to a loopback upstream.",
        "",
        "| service / load | concurrency | requests | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    key_checks = []
    with RecordingLLMServer() as upstream, tempfile.TemporaryDirectory() as folder:
        provider = {"Authorization": "Bearer sk-bench"}
        for workers in (1, 2):
            store = Path(folder) / f"metrics-{workers}.db"
            with headroom_serve(workers, store, upstream.origin) as url:
                asyncio.run(load(url, "/v1/compress", compress_body, 2 * workers, 4 * workers, {}))
                for concurrency in CONCURRENCY:
                    total = max(8, concurrency * args.per_client)
                    figures = asyncio.run(
                        load(url, "/v1/compress", compress_body, concurrency, total, {})
                    )
                    name = f"new, {workers} worker(s) / compress"
                    lines.append(row(name, concurrency, total, figures))
                for concurrency in (32, 96):
                    total = concurrency * args.per_client
                    figures = asyncio.run(
                        load(url, "/v1/chat/completions",
                             lambda _: {"model": "gpt-4o", "messages": sample},
                             concurrency, total, provider)
                    )
                    name = f"new, {workers} worker(s) / proxy"
                    lines.append(row(name, concurrency, total, figures))
                key_checks.append(f"{workers} worker(s): {every_worker_answers(url)}")
            print(f"{workers} worker(s) done", file=sys.stderr)
        with old_service(args.old_rev) as url:
            asyncio.run(load(url, "/v1/compress", compress_body, 2, 4, {}))
            for concurrency in CONCURRENCY:
                total = max(8, concurrency * args.per_client)
                figures = asyncio.run(
                    load(url, "/v1/compress", compress_body, concurrency, total, {})
                )
                name = f"old threaded ({args.old_rev}) / compress"
                lines.append(row(name, concurrency, total, figures))
    lines += ["", *key_checks]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
