"""detect_waste: each signal counts the tokens its clean-up would save, with the real tokenizer."""

from __future__ import annotations

import json
import time

from headroom_core.tokenizer import get_tokenizer
from headroom_core.waste import detect_waste

TOKENIZER = get_tokenizer("gpt-4o")
ROWS = [{"id": f"u_{i}", "name": f"user {i}", "active": i % 2 == 0} for i in range(30)]


def _tool(content: str) -> dict:
    return {"role": "tool", "tool_call_id": "c1", "content": content}


def _request(*messages: dict) -> list[dict]:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        *messages,
    ]


def test_json_bloat_is_the_saving_of_minifying():
    pretty = json.dumps(ROWS, indent=4)
    minified = json.dumps(ROWS, separators=(",", ":"))
    signals = detect_waste(_request(_tool(pretty)), TOKENIZER)
    assert signals.json_bloat_tokens == TOKENIZER.count_text(pretty) - TOKENIZER.count_text(
        minified
    )
    assert detect_waste(_request(_tool(minified)), TOKENIZER).json_bloat_tokens == 0


def test_html_noise_counts_tags_scripts_and_styles():
    text = "Quarterly revenue grew 12% to $4.1M."
    page = (
        "<html><head><style>body{color:red}</style><script>var a = 1; track(a);</script></head>"
        f'<body><div class="main"><p>{text}</p></div></body></html>'
    )
    signals = detect_waste(_request(_tool(page)), TOKENIZER)
    assert signals.html_noise_tokens == TOKENIZER.count_text(page) - TOKENIZER.count_text(text)


def test_whitespace_outside_code_blocks():
    loose = "Step one:     run it.   \n\n\n\n\nStep two:    check it."
    tight = "Step one: run it.\n\nStep two: check it."
    signals = detect_waste([{"role": "user", "content": loose}], TOKENIZER)
    assert signals.whitespace_tokens == TOKENIZER.count_text(loose) - TOKENIZER.count_text(tight)
    code = "```\nx    =    1\n\n\n\ny = 2\n```"
    assert detect_waste([{"role": "user", "content": code}], TOKENIZER).whitespace_tokens == 0


def test_dynamic_dates_and_ids_in_the_system_prompt():
    system = "You help. Today is Monday, January 6, 2025. Session id: sess_8812ab."
    signals = detect_waste(
        [{"role": "system", "content": system}, {"role": "user", "content": "2025-01-06?"}],
        TOKENIZER,
    )
    expected = TOKENIZER.count_text("Monday, January 6, 2025") + TOKENIZER.count_text("sess_8812ab")
    assert signals.dynamic_date_tokens == expected  # the user's date is content, not prefix noise


def test_repeated_lines_beyond_the_first():
    line = "WARN connection pool exhausted, retrying"
    log = "\n".join([line] * 5 + ["INFO started service api-gateway"])
    signals = detect_waste(_request(_tool(log)), TOKENIZER)
    assert signals.repetition_tokens == 4 * TOKENIZER.count_text(line)


def test_clean_request_has_no_waste():
    signals = detect_waste(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], TOKENIZER
    )
    assert signals.total == 0


def test_large_requests_are_sampled_close_to_the_exact_count_and_fast():
    pretty = json.dumps(
        [{"id": f"ord_{i}", "amount": i * 7, "status": "ok"} for i in range(3000)], indent=2
    )
    messages = _request(_tool(pretty))
    exact = detect_waste(messages, TOKENIZER, exact=True).json_bloat_tokens
    started = time.perf_counter()
    sampled = detect_waste(messages, TOKENIZER).json_bloat_tokens
    elapsed = time.perf_counter() - started
    assert abs(sampled - exact) <= 0.05 * exact
    assert (
        elapsed < 1.0
    )  # the exact count of this request alone takes far longer on a loaded CI box


def test_minified_json_on_one_line_is_sampled_in_windows_not_whole():
    rows = [{"id": f"ord_{i}", "amount": i * 7, "tags": ["a", "b"]} for i in range(20_000)]
    spaced = json.dumps(rows)
    messages = _request(_tool(spaced))
    exact = detect_waste(messages, TOKENIZER, exact=True).json_bloat_tokens
    sampled = detect_waste(messages, TOKENIZER).json_bloat_tokens
    assert abs(sampled - exact) <= 0.05 * exact


def test_a_text_sent_again_whole_counts_as_repetition():
    log = "\n".join(f"INFO request {i} served in {i % 7} ms" for i in range(40))
    once = detect_waste(_request(_tool(log)), TOKENIZER).repetition_tokens
    again = {"role": "user", "content": log}  # the user pastes the same output again
    twice = detect_waste([*_request(_tool(log)), again], TOKENIZER)
    assert twice.repetition_tokens == once + TOKENIZER.count_text(log)
