"""The published TypeScript client (npm ``headroom-ai``, pinned in package.json) against our server.

The client's ``compress()`` runs in Node (``compress_client.mjs``) and talks HTTP to the Python
service started here on a free loopback port; what it returns, or the error class it raises, comes
back as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headroom_core.config import HeadroomConfig
from headroom_core.messages import content_text
from headroom_core.samples import load_sample_conversation
from headroom_core.server import HeadroomServer, create_server
from headroom_core.transforms.router import ContentRouter
from tests.support.servers import running

HERE = Path(__file__).parent
API_KEY = "npm-client-key"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to run the published headroom-ai client",
)


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The client script, with the pinned package installed into tests/server/node_modules."""
    if not (HERE / "node_modules" / "headroom-ai" / "package.json").exists():
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed (the npm registry must be reachable):\n{done.stderr}")
    return HERE / "compress_client.mjs"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HeadroomServer]:
    store = tmp_path_factory.mktemp("npm") / "metrics.db"
    with running(create_server(port=0, api_key=API_KEY, store_url=f"sqlite:///{store}")) as up:
        yield up


def run_client(
    script: Path, server: HeadroomServer, request: dict[str, Any], api_key: str = API_KEY
) -> dict[str, Any]:
    env = {**os.environ, "HEADROOM_BASE_URL": server.url, "HEADROOM_API_KEY": api_key}
    done = subprocess.run(
        [NODE, str(script)],
        input=json.dumps(request),
        env=env,
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compress_round_trip(node_client: Path, server: HeadroomServer) -> None:
    sample = load_sample_conversation()
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": sample["messages"], "options": {"model": "gpt-4o"}},
    )

    assert answer["ok"], answer
    result = answer["result"]
    assert result["compressed"] is True
    assert 0 < result["tokensAfter"] < result["tokensBefore"]
    assert result["tokensSaved"] == result["tokensBefore"] - result["tokensAfter"]
    assert result["compressionRatio"] < 1
    assert result["transformsApplied"]
    original, compressed = sample["messages"], result["messages"]
    assert len(compressed) == len(original)
    assert [m.get("tool_call_id") for m in compressed] == [m.get("tool_call_id") for m in original]
    assert [m["role"] for m in compressed] == [m["role"] for m in original]
    assert content_text(compressed[-1]).endswith(original[-1]["content"])  # the last user turn
    kept = "\n".join(content_text(message) for message in compressed)
    assert all(fact["text"] in kept for fact in sample["facts"])


def test_ccr_hashes_name_the_markers_and_the_client_retrieves_them(
    node_client: Path, server: HeadroomServer
) -> None:
    sample = load_sample_conversation()
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": sample["messages"], "options": {"model": "gpt-4o"}},
    )
    hashes = answer["result"]["ccrHashes"]
    kept = "\n".join(content_text(message) for message in answer["result"]["messages"])
    assert hashes and all(f'key "{key}"' in kept for key in hashes)

    for key in hashes:
        found = run_client(node_client, server, {"call": "retrieve", "hash": key})
        assert found["ok"], found
        assert found["result"]["hash"] == key
        assert found["result"]["count"] == len(found["result"]["results"]) > 0


def test_wrong_key_raises_the_client_auth_error(node_client: Path, server: HeadroomServer) -> None:
    messages = [{"role": "user", "content": "hello"}]
    answer = run_client(
        node_client, server, {"call": "compress", "messages": messages}, api_key="wrong"
    )

    assert not answer["ok"]
    assert answer["isAuthError"], answer
    assert answer["name"] == "HeadroomAuthError"


def test_malformed_body_raises_the_client_compress_error(
    node_client: Path, server: HeadroomServer
) -> None:
    answer = run_client(
        node_client, server, {"call": "client", "messages": {"role": "user", "content": "hi"}}
    )

    assert not answer["ok"]
    assert answer["isCompressError"], answer
    assert answer["name"] == "HeadroomCompressError"
    assert answer["statusCode"] == 400
    assert answer["errorType"] == "invalid_request_error"


def test_invalid_messages_fail_fast_naming_the_problem(
    node_client: Path, server: HeadroomServer
) -> None:
    messages = [{"role": "tool", "tool_call_id": "call_x", "content": "orphan result"}]
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": messages, "options": {"fallback": True}},
    )

    assert not answer[
        "ok"
    ]  # a caller's mistake is raised even when the client falls back on outages
    assert answer["isCompressError"], answer
    assert answer["statusCode"] == 400
    assert "call_x" in answer["message"]


def test_simulate_health_and_stats_through_the_client(
    node_client: Path, server: HeadroomServer
) -> None:
    messages = load_sample_conversation()["messages"]

    simulated = run_client(node_client, server, {"call": "simulate", "messages": messages})
    assert simulated["ok"], simulated
    assert simulated["result"]["mode"] == "simulate"
    assert simulated["result"]["tokensSaved"] > 0

    health = run_client(node_client, server, {"call": "health"})
    assert health["result"]["status"] == "healthy"

    stats = run_client(node_client, server, {"call": "stats"})
    assert stats["ok"], stats
    assert stats["result"]["totalRequests"] >= 1
    assert stats["result"]["totalTokensSaved"] >= simulated["result"]["tokensSaved"]


def test_server_errors_are_retried_then_fall_back_to_the_original_messages(
    node_client: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = load_sample_conversation()["messages"]
    request = {"call": "compress", "messages": messages}
    fail_closed = HeadroomConfig(fail_open=False)  # an internal fault becomes a 500

    def fault(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a crusher broke")

    monkeypatch.setattr(ContentRouter, "route", fault)
    with running(create_server(port=0, api_key=API_KEY, config=fail_closed)) as up:
        strict = run_client(node_client, up, request)
        options = {"fallback": True, "retries": 1}
        fallback = run_client(node_client, up, {**request, "options": options})
        served = up.stats.snapshot()["requests"]

    assert strict["isCompressError"], strict
    assert (strict["statusCode"], strict["errorType"]) == (500, "compression_error")
    assert fallback["ok"], fallback
    assert fallback["result"]["compressed"] is False
    assert fallback["result"]["messages"] == messages
    assert served["total"] == 3  # one strict call, one failed call and its retry
