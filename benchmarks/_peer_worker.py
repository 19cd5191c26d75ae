"""Run the public peer's ``compress()`` on cases read from stdin; runs inside the peer's own venv.

Input: one JSON object per line, ``{"id": ..., "messages": [...]}`` and optionally
``"model_limit"`` (the window the peer fits into). Output: one JSON object per
line, ``{"id": ..., "messages": [...], "latency_ms": ...}`` (or ``"error"``). The first line is a
warm-up whose result is not measured by the caller.
"""

from __future__ import annotations

import json
import sys
import time


def main() -> None:
    from headroom import compress

    for raw in sys.stdin:
        case = json.loads(raw)
        start = time.perf_counter()
        try:
            limit = {"model_limit": case["model_limit"]} if case.get("model_limit") else {}
            result = compress(case["messages"], model="gpt-4o", **limit)
        except Exception as exc:  # the peer's failure is a result to report, not a crash
            reply = {"id": case["id"], "error": f"{type(exc).__name__}: {exc}"}
        else:
            reply = {"id": case["id"], "messages": result.messages}
        reply["latency_ms"] = 1000 * (time.perf_counter() - start)
        sys.stdout.write(json.dumps(reply, ensure_ascii=False, default=str) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
