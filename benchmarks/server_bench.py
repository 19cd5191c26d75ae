"""What the HTTP compress service adds on top of the engine: ``python -m benchmarks.server_bench``.

The same request (the package's sample agent conversation, ~38K tokens) is optimized directly
through ``HeadroomEngine.optimize`` and through ``POST /v1/compress`` on a loopback server in this
process, one request at a time, after one warm-up call: repeated calls on the same content hit the
engine's content caches for both paths alike, so the difference is what HTTP and JSON cost (the
first-call cost of compression is in ``benchmarks.run_all``). Then several clients post at once:
each connection has its own thread, so no client waits for another's connection, while the
CPU-bound compression itself shares the interpreter lock.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from headroom_core.engine import HeadroomEngine
from headroom_core.samples import load_sample_conversation
from headroom_core.server import HeadroomServer, create_server


def _timed(call: Callable[[], object], repeat: int) -> list[float]:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        timings.append(1000 * (time.perf_counter() - start))
    return timings


def _post(server: HeadroomServer, body: bytes) -> dict:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=120)
    try:
        connection.request("POST", "/v1/compress", body=body)
        response = connection.getresponse()
        payload = json.loads(response.read())
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload}")
        return payload
    finally:
        connection.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="sequential calls per path")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args(argv)

    sample = load_sample_conversation()
    messages, model = sample["messages"], sample["model"]
    body = json.dumps({"messages": messages, "model": model}).encode()
    engine = HeadroomEngine()
    server = create_server(port=0, engine=engine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        engine.optimize(messages, model)  # warm-up: imports, vocabulary, compiled patterns
        direct = _timed(lambda: engine.optimize(messages, model), args.repeat)
        over_http = _timed(lambda: _post(server, body), args.repeat)

        total = args.clients * args.repeat
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(lambda _: _post(server, body), range(total)))
        wall = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()

    saved = {result["tokens_saved"] for result in results}
    direct_p50, http_p50 = statistics.median(direct), statistics.median(over_http)
    print(f"request: {len(messages)} messages, {len(body):,} bytes, tokens saved {sorted(saved)}")
    print(f"engine.optimize          p50 {direct_p50:8.1f} ms")
    print(f"POST /v1/compress        p50 {http_p50:8.1f} ms  (x{http_p50 / direct_p50:.2f})")
    print(f"HTTP + JSON overhead     p50 {http_p50 - direct_p50:8.1f} ms")
    print(
        f"{args.clients} concurrent clients: {total} requests in {wall:.1f}s "
        f"({total / wall:.1f} req/s; sequential would take {total * http_p50 / 1000:.1f}s)"
    )


if __name__ == "__main__":
    main()
