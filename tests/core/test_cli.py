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
from headroom_core.tokenizer import Tokenizer

DATA = Path(__file__).parent.parent / "data"


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


def _anthropic_request() -> dict:
    """An Anthropic Messages request whose tool result is ~8K tokens of real JSON (flights)."""
    flights = json.loads((DATA / "vega_flights_300.json").read_text(encoding="utf-8"))[:175]
    question = "Which flights from LAX were delayed by more than an hour?"
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "You are a flight operations assistant. Answer from the tool results.",
        "messages": [
            {"role": "user", "content": question},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me search the flight log."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "search_flights",
                        "input": {"origin": "LAX", "limit": 175},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": json.dumps(flights),
                    }
                ],
            },
        ],
    }


def test_simulate_reads_an_anthropic_request_and_compresses_its_tool_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = _anthropic_request()
    tool_output = request["messages"][2]["content"][0]["content"]
    assert 7_000 < Tokenizer("claude-sonnet-4-5").count_text(tool_output) < 10_000
    path = tmp_path / "anthropic.json"
    path.write_text(json.dumps(request), encoding="utf-8")

    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(read from an Anthropic request) to claude-sonnet-4-5" in out
    saved = re.search(r"tokens saved\s+([\d,]+) \(", out)
    assert saved is not None and int(saved.group(1).replace(",", "")) > 5_000
    assert "Where the savings came from" in out and "smart_crusher" in out

    assert main(["simulate", str(path), "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["model"] == "claude-sonnet-4-5" and plan["tokens_saved"] > 5_000
    assert "tool_output_compression" in plan["transforms_applied"]


def test_simulate_reads_an_anthropic_message_list_without_a_system_prompt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    messages = _anthropic_request()["messages"]
    monkeypatch.setattr(sys, "stdin", io.StringIO(json.dumps(messages)))
    assert main(["simulate", "-", "--model", "claude-haiku-4-5", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["model"] == "claude-haiku-4-5" and plan["tokens_saved"] > 5_000


@pytest.mark.parametrize(
    ("messages", "problem"),
    [
        ([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}], "'tool_use_id'"),
        ([{"content": [{"type": "tool_use", "id": "t", "name": "n"}]}], "'role'"),
        (
            [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t9",
                                           "content": "x"}]}],
            "read as an Anthropic request: Message 1 is a tool result for 't9', which no earlier",
        ),
    ],
)
def test_a_malformed_anthropic_request_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], messages: list, problem: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"system": "s", "messages": messages}), encoding="utf-8")
    assert main(["simulate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"headroom: error: {path}: ")
    assert problem in err


def test_a_request_too_big_for_the_window_exits_2_with_the_sizes_on_a_line_of_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "big.json"
    request = [{"role": "user", "content": "alpha beta gamma delta " * 3000}]
    path.write_text(json.dumps(request), encoding="utf-8")
    assert main(["simulate", str(path), "--model", "gpt-4"]) == 2
    progress, error = capsys.readouterr().err.splitlines()
    assert progress == "[1/1] Simulating 1 message for gpt-4... failed"
    assert error.startswith(
        "headroom: error: The request cannot fit: the kept minimum (the system prompt and the "
        "last turn) is 12,008 tokens, the budget is 4,192 (model_limit 8,192 minus 4,000 output "
        "buffer)."
    )


@pytest.mark.parametrize("source", ["--model", "file"])
def test_simulate_an_unknown_model_is_one_line_naming_the_closest_and_exit_2(
    sample_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], source: str
) -> None:
    if source == "--model":
        argv = ["simulate", str(sample_file), "--model", "gpt4o"]
    else:
        path = tmp_path / "request.json"
        request = {"model": "gpt4o", "messages": load_sample_conversation()["messages"]}
        path.write_text(json.dumps(request), encoding="utf-8")
        argv = ["simulate", str(path)]

    assert main(argv) == 2

    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("headroom: error: Unknown model 'gpt4o'. Closest known models: gpt-4o, ")


def test_demo_with_an_unknown_model_exits_2_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_url = f"sqlite:///{tmp_path / 'metrics.db'}"
    assert main(["demo", "--model", "gpt-5-ultra-nonexistent", "--store-url", store_url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("headroom: error: Unknown model 'gpt-5-ultra-nonexistent'. Closest")
    assert err.count("\n") == 1
    assert not (tmp_path / "metrics.db").exists()


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


def test_report_on_a_store_the_user_has_to_fix_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        f"sqlite:///{tmp_path / 'typo.db'}": "no such database file",
        "nope": "Invalid value for store_url: 'nope'",
        "nosuchdb://user@localhost/db": "The driver for 'nosuchdb' is not installed",
    }
    for store_url, problem in cases.items():
        assert main(["report", "--store-url", store_url]) == 2, store_url
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("headroom: error: ")
        assert problem in err


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    statuses = re.findall(r"^  (\d+) +(\S.*)$", out.split("exit status:")[1], re.MULTILINE)
    assert [code for code, _ in statuses] == ["0", "2", "1", "130"]
    assert "unknown model" in out and "bad store" in out and "interrupted" in out
    assert "130 when interrupted" in (main.__doc__ or "")


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
