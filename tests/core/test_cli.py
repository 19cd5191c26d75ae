"""The ``headroom`` command, run in-process through ``main()`` and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from headroom_core.cli import main
from headroom_core.samples import load_sample_conversation
from headroom_core.storage import MetricsStore


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(load_sample_conversation()["messages"]), encoding="utf-8")
    return path


def test_demo_prints_the_savings_table_and_writes_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    report = tmp_path / "report.html"

    assert main(["demo", "--store-url", store_url, "--report", str(report)]) == 0

    out, err = capsys.readouterr()
    for kind in (
        "system prompt",
        "user turns",
        "assistant turns",
        "tool results",
        "total",
        "input cost",
    ):
        assert kind in out
    total = re.search(r"total\s+([\d,]+)\s+([\d,]+)\s+([\d.]+)%", out)
    assert total is not None
    before, after = (int(total.group(i).replace(",", "")) for i in (1, 2))
    assert after < before
    assert "Where the savings came from" in out
    assert str(report.resolve()) in out
    assert "<html" in report.read_text(encoding="utf-8").lower()
    assert "[3/3]" in err
    with MetricsStore(store_url) as store:
        rows = store.query()
    assert [(row.source, row.tokens_before, row.tokens_after) for row in rows] == [
        ("cli", before, after)
    ]


def test_demo_defaults_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    assert (tmp_path / "headroom.db").exists()
    assert (tmp_path / "headroom-report.html").exists()
    assert "headroom-report.html" in capsys.readouterr().out


def test_simulate_from_a_file_prints_the_plan(
    sample_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", str(sample_file)]) == 0
    out = capsys.readouterr().out
    assert "simulated: nothing was sent" in out
    assert re.search(r"tokens saved\s+[\d,]+ \([\d.]+%\)", out)
    assert "Where the savings came from" in out
    assert "Waste signals" in out


def test_simulate_from_stdin_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = load_sample_conversation()  # the {"model", "messages"} shape of a request body
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(request)))

    assert main(["simulate", "-", "--json"]) == 0

    plan = json.loads(capsys.readouterr().out)
    assert plan["mode"] == "simulate"
    assert plan["model"] == "gpt-4o"
    assert 0 < plan["tokens_after"] < plan["tokens_before"]
    assert plan["tokens_saved"] == plan["tokens_before"] - plan["tokens_after"]
    assert plan["transforms_applied"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON (line 1, column 2"),
        ("42", "expected a list of chat messages, got int"),
        ('{"model": "gpt-4o"}', "needs a 'messages' list"),
        ("[]", "the message list is empty"),
        ('[{"role": "tool", "tool_call_id": "call_9", "content": "x"}]', "call_9"),
    ],
)
def test_a_bad_file_gets_one_line_naming_it_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, problem: str
) -> None:
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    assert main(["simulate", str(path)]) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"headroom: error: {path}: ")
    assert problem in err


def test_report_renders_markdown_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    main(["demo", "--store-url", store_url, "--report", str(tmp_path / "demo.html")])
    output = tmp_path / "report.md"

    assert (
        main(["report", "--store-url", store_url, "--format", "markdown", "--output", str(output)])
        == 0
    )

    assert str(output.resolve()) in capsys.readouterr().out
    text = output.read_text(encoding="utf-8")
    assert text.startswith("#")
    assert "1" in text


def test_report_to_stdout_and_a_missing_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    main(["demo", "--store-url", store_url, "--report", str(tmp_path / "demo.html")])
    capsys.readouterr()

    assert main(["report", "--store-url", store_url, "--format", "markdown", "--output", "-"]) == 0
    assert capsys.readouterr().out.startswith("# Headroom savings report")

    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    assert main(["report", "--store-url", missing]) == 2
    assert capsys.readouterr().err.startswith(f"headroom: error: {missing}: no such database file")
    assert not (tmp_path / "typo.db").exists()


def test_console_entry_point_exits_2_on_a_bad_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    done = subprocess.run(
        [sys.executable, "-m", "headroom_core.cli", "simulate", str(missing)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == f"headroom: error: {missing}: no such file\n"


def test_serve_records_compress_requests_until_stopped(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "headroom_core.cli", "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        banner = process.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert url is not None, banner
        with urllib.request.urlopen(f"{url.group(0)}/health", timeout=10) as response:
            assert json.load(response)["status"] == "healthy"
        body = json.dumps({"messages": load_sample_conversation()["messages"]}).encode()
        request = urllib.request.Request(f"{url.group(0)}/v1/compress", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.load(response)["tokens_saved"] > 0
    finally:
        process.terminate()
        process.wait(timeout=10)
    with MetricsStore(f"sqlite:///{tmp_path / 'headroom.db'}") as store:
        assert [row.source for row in store.query()] == ["server"]


@pytest.mark.postgres
def test_demo_records_in_postgresql(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = datetime.now(timezone.utc)
    report = tmp_path / "report.html"

    assert main(["demo", "--store-url", postgres_url, "--report", str(report)]) == 0

    assert "Metrics stored in postgresql" in capsys.readouterr().out
    assert report.exists()
    with MetricsStore(postgres_url) as store:
        rows = store.query(start_time=started, source="cli")
    assert len(rows) >= 1
    assert all(row.tokens_after < row.tokens_before for row in rows)


def test_serve_warns_when_exposed_without_a_key(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "HEADROOM_API_KEY"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headroom_core.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--no-store",
        ],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        warning, banner = process.stderr.readline(), process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "without an API key" in warning
    assert "no API key" in banner


@pytest.mark.parametrize("port", ["99999", "taken"])
def test_serve_on_a_bad_or_busy_port_is_one_line_and_a_failure(port: str) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        chosen = str(held.getsockname()[1]) if port == "taken" else port
        done = subprocess.run(
            [sys.executable, "-m", "headroom_core.cli", "serve", "--port", chosen, "--no-store"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("headroom: error:")
    assert ("99999" in line) if port == "99999" else ("cannot listen" in line)


def test_serve_without_the_server_extra_names_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "from headroom_core.cli import main\n"
        "sys.exit(main(['serve', '--no-store']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("headroom: error:")
    assert "pip install \"headroom-langchain[server]\"" in line
