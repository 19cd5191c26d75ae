"""The ``headroom`` command: demo, simulate, report and serve.

Standard library only (argparse); the engine, the store and the server are imported when a command
needs them, so ``headroom --help`` is instant. Every error prints one line on stderr; the exit
status says whose it is (:data:`EXIT_STATUS`): 2 for input the user has to fix, 1 for other
failures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from headroom_core import _cli_render as render
from headroom_core._version import __version__
from headroom_core.errors import (
    ConfigurationError,
    ContextOverflowError,
    HeadroomError,
    ProviderError,
    ValidationError,
)
from headroom_core.messages import validate_messages

__all__ = ["main"]

DEFAULT_STORE_URL = "sqlite:///headroom.db"
DEFAULT_REPORT = "headroom-report.html"
DEFAULT_MODEL = "gpt-4o"
FAILURE = 1
USAGE_ERROR = 2
INTERRUPTED = 130  # the shell's status for a process stopped by Ctrl-C
# Headroom's errors about what the user gave (arguments, files, store URL, model, a request no
# fitting can bring under the model's window): exit 2.
USER_ERRORS = (ConfigurationError, ValidationError, ProviderError, ContextOverflowError)
EXIT_STATUS = f"""exit status:
  0    success
  {USAGE_ERROR}    input you have to fix: bad arguments, a missing or unreadable file, a bad store
       URL, an unknown model, an invalid request, a request too big for the model's window
  {FAILURE}    any other failure (an unreachable database, a failed optimization...)
  {INTERRUPTED}  interrupted (Ctrl-C)
"""


class InputError(Exception):
    """A file or argument the user has to fix; reported as one line, exit status 2."""


class Progress:
    """Step-by-step progress on stderr, so long work shows what it is doing."""

    def __init__(self, steps: int, stream: TextIO | None = None) -> None:
        self._steps = steps
        self._done = 0
        self._stream = stream if stream is not None else sys.stderr

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        """Announce a step, then close its line with its duration, or with "failed" when it
        raises (so an error message starts on a line of its own)."""
        self._done += 1
        started = time.perf_counter()
        self._write(f"[{self._done}/{self._steps}] {what}...")
        try:
            yield
        except BaseException:
            self._write(" failed\n")
            raise
        self._write(f" done ({time.perf_counter() - started:.2f}s)\n")

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()


# -- commands ------------------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    from headroom_core.engine import HeadroomEngine
    from headroom_core.providers import provider_for_model
    from headroom_core.reporting import generate_report
    from headroom_core.samples import load_sample_conversation

    if args.model:
        _check_model(args.model)
    progress = Progress(3)
    with progress.step("Loading the sample agent conversation"):
        sample = load_sample_conversation()
    messages = sample["messages"]
    model = args.model or sample.get("model", DEFAULT_MODEL)

    with progress.step(
        f"Optimizing {_count(len(messages), 'message')} for {model} (store: {args.store_url})"
    ):
        engine = HeadroomEngine(store_url=args.store_url, source="cli")
        try:
            result = engine.optimize(messages, model, mode="optimize")
        finally:
            engine.close()  # flushes the metrics row the report reads

    report_path = Path(args.report).resolve()
    with progress.step(f"Writing the HTML report to {args.report}"):
        generate_report(args.store_url, format="html", period="day", output_path=str(report_path))

    tokenizer = provider_for_model(model).get_token_counter(model)
    sys.stdout.write(
        f"\nHeadroom demo: an on-call agent's last request to {model}, before and after\n\n"
        f"{render.kind_table(messages, result, tokenizer)}\n"
        f"Tool results:\n{render.tool_table(messages, result.messages_optimized, tokenizer)}\n"
        f"{render.savings(result)}"
        f"{render.facts(sample.get('facts', []), result.messages_optimized)}\n"
        f"Metrics stored in {args.store_url}\n"
        f"HTML report written to {report_path}\n"
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from headroom_core.engine import HeadroomEngine

    request = _read_request(args.file)
    messages = request.messages
    model = args.model or request.model or DEFAULT_MODEL
    _check_model(model)
    with Progress(1).step(f"Simulating {_count(len(messages), 'message')} for {model}"):
        result = HeadroomEngine().optimize(messages, model, mode="simulate")
    if args.json:
        json.dump(result.summary(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    read_as = " (read from an Anthropic request)" if request.anthropic else ""
    sys.stdout.write(
        f"Plan for {len(messages)} messages{read_as} to {model} (simulated: nothing was sent)\n\n"
        f"{render.plan_table(result)}\n"
        f"{render.savings(result)}\n"
        f"Waste signals in the original request (tokens):\n{render.waste_table(result)}"
    )
    return 0


def _report(args: argparse.Namespace) -> int:
    from headroom_core.reporting import generate_report

    _check_sqlite_exists(args.store_url)
    if args.output == "-":
        sys.stdout.write(generate_report(args.store_url, format=args.format, period=args.period))
        return 0
    output = args.output or ("headroom-report.md" if args.format == "markdown" else DEFAULT_REPORT)
    path = Path(output).resolve()
    generate_report(args.store_url, format=args.format, period=args.period, output_path=str(path))
    sys.stdout.write(f"{args.format.upper()} report of {args.store_url} written to {path}\n")
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        from headroom_core.server import ServerSettings, serve
    except ImportError as error:
        raise InputError(str(error)) from error

    chosen = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "store_url": None if args.no_store else args.store_url,
        "api_key": args.api_key,
        "openai_api_url": args.openai_api_url,
        "anthropic_api_url": args.anthropic_api_url,
    }
    serve(ServerSettings(**{name: value for name, value in chosen.items() if value is not None}))
    return 0


# -- input ---------------------------------------------------------------------------------------


def _check_sqlite_exists(store_url: str) -> None:
    """A report of a SQLite file that is not there is a typo, not an empty store."""
    prefix = "sqlite:///"
    if store_url.startswith(prefix) and store_url != f"{prefix}:memory:":
        path = Path(store_url[len(prefix) :])
        if not path.exists():
            raise InputError(f"{store_url}: no such database file ({path.resolve()})")


@dataclass(frozen=True)
class RequestFile:
    """A request read from a file: OpenAI chat messages, whatever format the file was in."""

    messages: list[dict[str, Any]]
    model: str | None
    anthropic: bool  # the file held an Anthropic Messages request, converted


def _check_model(model: str) -> None:
    """An unknown model is the user's to fix: say so before any work starts."""
    from headroom_core._catalog import require_model

    require_model(model, hint="Choose one with --model.")


def _read_request(file: str) -> RequestFile:
    """The request in a JSON file or ``-`` for stdin.

    Accepts a list of messages or a request body with ``messages`` (and optionally ``model``),
    in OpenAI form or Anthropic form (a top-level ``system``, or ``tool_use`` / ``tool_result``
    content blocks), which is converted to OpenAI messages.
    """
    from headroom_core.providers.anthropic_format import find_anthropic_block, from_anthropic

    name = "<stdin>" if file == "-" else file
    data = _read_json(file, name)
    model, system = None, None
    if isinstance(data, Mapping):
        model = data.get("model") if isinstance(data.get("model"), str) else None
        system = data.get("system")
        data = data.get("messages")
        if data is None:
            raise InputError(f"{name}: a JSON object needs a 'messages' list")
    if not isinstance(data, list):
        raise InputError(f"{name}: expected a list of chat messages, got {type(data).__name__}")
    if not data:
        raise InputError(f"{name}: the message list is empty")
    anthropic = system is not None or find_anthropic_block(data) is not None
    try:
        messages = from_anthropic(data, system) if anthropic else data
        validate_messages(messages)
    except ValidationError as error:
        read_as = " read as an Anthropic request:" if anthropic else ""
        raise InputError(f"{name}:{read_as} {error.message}") from None
    return RequestFile(messages, model, anthropic)


def _read_json(file: str, name: str) -> Any:
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text") from None
    except OSError as error:
        raise InputError(f"{name}: cannot read ({error.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{name}: not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None


# -- entry point ---------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``headroom`` command."""
    parser = argparse.ArgumentParser(
        prog="headroom",
        description="Make LLM context small, stable and still correct, and measure the savings.",
        epilog=EXIT_STATUS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"headroom {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="optimize a sample agent conversation and show the savings"
    )
    demo.add_argument("--model", help="model to optimize for (default: the sample's, gpt-4o)")
    demo.add_argument("--store-url", default=DEFAULT_STORE_URL, help="metrics store URL")
    demo.add_argument("--report", default=DEFAULT_REPORT, help="path of the HTML report")
    demo.set_defaults(handler=_demo)

    simulate = commands.add_parser(
        "simulate", help="show what optimizing a request would do, without sending it"
    )
    simulate.add_argument(
        "file",
        metavar="FILE",
        help="JSON request (OpenAI or Anthropic) or list of messages, or - for stdin",
    )
    simulate.add_argument("--model", help="model to plan for (default: the file's, or gpt-4o)")
    simulate.add_argument("--json", action="store_true", help="print the plan as JSON")
    simulate.set_defaults(handler=_simulate)

    report = commands.add_parser("report", help="render the stored metrics as HTML or Markdown")
    report.add_argument("--store-url", default=DEFAULT_STORE_URL, help="metrics store URL")
    report.add_argument("--format", choices=("html", "markdown"), default="html")
    report.add_argument("--period", choices=("hour", "day", "week"), default="day")
    report.add_argument(
        "--output", help="report path, - for stdout (default: headroom-report.html or .md)"
    )
    report.set_defaults(handler=_report)

    serve = commands.add_parser(
        "serve", help="run the HTTP service: compress API and OpenAI/Anthropic proxy"
    )
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    serve.add_argument("--port", type=int, default=8787)
    serve.add_argument("--workers", type=int, default=1, help="processes serving requests")
    serve.add_argument("--api-key", help="required bearer key (default: $HEADROOM_API_KEY)")
    serve.add_argument("--store-url", default=DEFAULT_STORE_URL, help="metrics store URL")
    serve.add_argument("--no-store", action="store_true", help="record no metrics")
    serve.add_argument(
        "--openai-api-url",
        help="OpenAI upstream, ending in /v1 (default: $OPENAI_TARGET_API_URL or OpenAI's API)",
    )
    serve.add_argument(
        "--anthropic-api-url",
        help="Anthropic upstream (default: $ANTHROPIC_TARGET_API_URL or Anthropic's API)",
    )
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``headroom`` command.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns:
        The exit status: 0 on success; 2 for input the user has to fix (bad arguments, a missing
        or unreadable file, a bad store URL, an unknown model, an invalid request, a request too
        big for the model's window: argparse's
        errors, :class:`InputError`, and the :data:`USER_ERRORS` Headroom raises about them);
        1 for any other failure; 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except InputError as error:
        return _fail(str(error), USAGE_ERROR)
    except USER_ERRORS as error:
        return _fail(error.message, USAGE_ERROR)
    except HeadroomError as error:
        return _fail(error.message, FAILURE)
    except KeyboardInterrupt:
        sys.stderr.write("\nheadroom: interrupted\n")
        return INTERRUPTED


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _fail(message: str, status: int) -> int:
    """One line on stderr (a multi-line cause, such as a driver's, is folded into it)."""
    sys.stderr.write(f"headroom: error: {' '.join(message.split())}\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
