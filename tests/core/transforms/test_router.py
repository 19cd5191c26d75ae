"""ContentRouter: detection per kind and routing to the right crusher, on real outputs."""

from __future__ import annotations

import dataclasses
import heapq
import inspect
import re
import textwrap
from pathlib import Path

import pytest

import headroom_core.messages
from headroom_core.config import HeadroomConfig, LineCrusherConfig, RetrievalConfig
from headroom_core.errors import TransformError
from headroom_core.retrieval import InMemoryOriginalsStore
from headroom_core.transforms import ContentRouter

DATA = Path(__file__).resolve().parents[2] / "data" / "lines"
MARKDOWN = (DATA.parent / "prose" / "openai_responses_websocket_README.md").read_text(
    encoding="utf-8"
)
CODE = inspect.getsource(headroom_core.messages)
PROSE = (
    "LLM applications waste most of their input tokens. Agents paste large tool results,\n"
    "long logs and whole files into the context, and chat histories grow until they hit\n"
    "the window.\n"
    "Compression keeps what the question needs and says what it left out.\n"
)


def read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def router() -> ContentRouter:
    return ContentRouter(store=InMemoryOriginalsStore())


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("gh_subscriptions.json", "json"),
        ("hdfs.log", "log"),
        ("apache.log", "log"),
        ("android.log", "log"),
        ("linux.log", "log"),
        ("windows.log", "log"),
        ("grep_requester.txt", "search"),
        ("grep_githubexception.txt", "search"),
    ],
)
def test_detects_each_kind(router: ContentRouter, name: str, kind: str) -> None:
    assert router.detect(read(name)) == kind


@pytest.mark.parametrize("module", [headroom_core.messages, textwrap, heapq, re, dataclasses])
def test_detects_code_even_when_docstrings_dominate(router: ContentRouter, module: object) -> None:
    assert router.detect(inspect.getsource(module)) == "code"  # type: ignore[arg-type]


def test_detects_prose_as_text(router: ContentRouter) -> None:
    assert router.detect(PROSE) == "text"
    assert router.detect((DATA / "README.md").read_text(encoding="utf-8")) == "text"
    assert router.detect("") == "text"


def test_markdown_with_fenced_code_is_text(router: ContentRouter) -> None:
    assert MARKDOWN.count("```") >= 4  # fenced Python examples between the paragraphs
    assert router.detect(MARKDOWN) == "text"
    inside = MARKDOWN.index("```python") + 600  # within the first fenced example
    document = PROSE * ((len(MARKDOWN) - 2 * inside) // len(PROSE)) + MARKDOWN
    assert document[: len(document) // 2].count("```") % 2 == 1  # the middle sample is fenced
    assert router.detect(document) == "text"


API_SECTION = """\
### `queue.push(item[, priority])`

<!-- YAML
added: v2.1.0
changes:
  - version: v3.0.0
    pr-url: https://example.org/queue/pull/118
    description: The `priority` argument is optional.
-->

* `item` {any} The value to enqueue.
* `priority` {integer} Lower runs first. **Default:** `0`.
* Returns: {integer} The new length of the queue.

Adds `item` to the queue. When the queue is [`paused`][] the item waits until
`queue.resume()` is called; `push()` never blocks and never throws for a full
queue, it grows it instead.

```js
const { Queue } = require('work-queue');

const queue = new Queue({ concurrency: 2 });
queue.push({ id: 1 }, 5);
queue.push({ id: 2 });
queue.on('drain', () => {
  console.log('all done');
});
```

"""
NESTED_CONTENTS = """\
# Contributor guide

* [Getting started](#getting-started)
  * [Fork the repository](#fork-the-repository)
  * [Build from source](#build-from-source)
* [Opening a pull request](#opening-a-pull-request)
  * [Commit message guidelines](#commit-message-guidelines)
  * `semver-{minor,major}`:
    * If a change has the remote chance of breaking something, use the
      `semver-major` label
* [Reviewing](#reviewing)

Welcome! This guide walks you through your first weeks as a contributor: how to
set up a clone, how reviews work, and who to ask when you are stuck.
"""
C_HEADER = """\
/*
 * queue.h - a bounded work queue.
 *
 * The queue holds at most QUEUE_MAX items; push blocks when it is full
 * and pop blocks when it is empty.  All functions are thread safe.
 */
#ifndef QUEUE_H
# define QUEUE_H

# include <stddef.h>

# define QUEUE_MAX 1024

/*
 * Create a queue.  Returns NULL when memory runs out.
 */
struct queue *queue_new(size_t capacity);

/*
 * Add an item; blocks while the queue is full.
 */
int queue_push(struct queue *q, void *item);

#endif /* QUEUE_H */
"""


def test_api_docs_full_of_examples_and_nested_lists_of_links_are_text(
    router: ContentRouter,
) -> None:
    # wrapped prose with inline code, parameter lists and YAML comments between long fenced
    # examples: most sampled lines are code, yet the document is prose
    assert router.detect(API_SECTION * 12) == "text"
    # no fence at all, a contents list nested with links: Markdown, not code
    assert router.detect(NESTED_CONTENTS * 4) == "text"


def test_c_comment_blocks_and_indented_preprocessor_lines_stay_code(
    router: ContentRouter,
) -> None:
    assert router.detect(C_HEADER * 4) == "code"


def test_listings_are_lines_and_records_apart_by_blank_lines_are_a_document(
    router: ContentRouter,
) -> None:
    package = Path(headroom_core.messages.__file__).parent
    found = "\n".join(f"./{path.relative_to(package.parent)}" for path in package.rglob("*.py"))
    assert router.detect(found) == "log"  # `find`: every line an item
    result = router.route(found, query="Where is the retrieval code?")
    assert result.compressed == found  # the line crusher keeps a listing of this size whole
    records = "\n\n".join(
        f"commit {number:040x}\nAuthor: Dev <dev@example.org>\nDate:   Mon Jan {number % 28 + 1} "
        f"10:00:00 2025 +0000\n\n    Fix the parser for case {number}"
        for number in range(1, 40)
    )
    assert router.detect(records) == "text"  # `git log`: a paragraph per record


def test_fenced_examples_do_not_make_code_text(router: ContentRouter) -> None:
    fence = "```"
    docstring = f'"""Example:\n\n{fence}python\nvalue = parse(text)\n{fence}\n"""\n\n'
    assert router.detect(docstring + inspect.getsource(textwrap)) == "code"
    examples = "\n".join(line for line in MARKDOWN.split("\n") if line.startswith(" "))
    assert router.detect(f"{fence}python\n{examples}\n{fence}") == "code"  # code alone


def test_markdown_goes_to_line_crusher_and_keeps_the_answer() -> None:
    config = HeadroomConfig(line_crusher=LineCrusherConfig(code_min_tokens=0))
    router = ContentRouter(config, store=InMemoryOriginalsStore())
    result = router.route(MARKDOWN, query="Does closing the session close the connection?")
    assert result.reasons[0] == "detected text"
    assert result.strategy != "code_outline"
    assert "Closing the session closes the connection." in result.compressed


def test_broken_json_is_not_json(router: ContentRouter) -> None:
    assert router.detect(read("gh_subscriptions.json")[:-40]) != "json"


def test_json_goes_to_smart_crusher(router: ContentRouter) -> None:
    result = router.route(read("gh_subscriptions.json"), query="")
    assert result.strategy == "smart_crusher"
    assert result.reasons[0] == "detected json"
    assert result.tokens_after < result.tokens_before
    assert router.detect(result.compressed) == "json"  # the compact form is still JSON's
    again = router.route(result.compressed)
    assert again.strategy == "passthrough" and again.compressed == result.compressed


@pytest.mark.parametrize("name", ["hdfs.log", "grep_requester.txt"])
def test_logs_and_search_go_to_line_crusher(router: ContentRouter, name: str) -> None:
    result = router.route(read(name), query="Requester", profile={"max_items": 20})
    assert result.strategy == "line_crusher"
    assert result.tokens_after < result.tokens_before


def test_large_code_is_outlined_small_code_passes_through() -> None:
    router = ContentRouter(store=InMemoryOriginalsStore())
    small = CODE.split("\n\n\ndef ", 2)[0]

    untouched = router.route(small, query="validate_messages")
    assert untouched.strategy == "passthrough" and untouched.compressed == small
    assert untouched.reasons[0] == "detected code"
    large = inspect.getsource(textwrap)
    outlined = router.route(large, query="How does TextWrapper._wrap_chunks handle long words?")
    assert outlined.strategy == "code_outline" and outlined.reasons[0] == "detected code"
    assert outlined.tokens_after < 0.75 * outlined.tokens_before
    assert outlined.retrieval_key is not None
    kept = set(large.split("\n"))
    assert all(line in kept or "omitted" in line for line in outlined.compressed.split("\n"))


def test_code_mode_passthrough_and_compress_code_switch_the_outline_off() -> None:
    large = inspect.getsource(textwrap)
    off = HeadroomConfig(line_crusher=LineCrusherConfig(code_mode="passthrough"))
    untouched = ContentRouter(off, store=InMemoryOriginalsStore()).route(large, query="wrap")
    assert untouched.strategy == "passthrough" and untouched.compressed == large
    assert "code_mode is 'passthrough'" in untouched.reasons[0]
    config = HeadroomConfig(
        line_crusher=LineCrusherConfig(compress_code=True, max_lines_after_crush=20)
    )
    crushed = ContentRouter(config, store=InMemoryOriginalsStore()).route(large)
    assert crushed.strategy == "line_crusher"


def test_non_code_never_reaches_the_outliner() -> None:
    config = HeadroomConfig(line_crusher=LineCrusherConfig(code_min_tokens=0))
    router = ContentRouter(config, store=InMemoryOriginalsStore())
    assert router.route(read("hdfs.log"), query="Requester").strategy == "line_crusher"
    prose = router.route(PROSE)
    assert prose.strategy == "passthrough" and prose.compressed == PROSE


def test_disabled_crusher_passes_through() -> None:
    config = HeadroomConfig(line_crusher=LineCrusherConfig(enabled=False))
    router = ContentRouter(config, store=InMemoryOriginalsStore())
    result = router.route(read("hdfs.log"))
    assert result.strategy == "passthrough" and "line_crusher is disabled" in result.reasons
    assert router.route(read("gh_subscriptions.json")).strategy == "smart_crusher"


@pytest.mark.parametrize("name", ["gh_subscriptions.json", "hdfs.log"])
def test_disabled_retrieval_stores_nothing_and_names_no_key(name: str) -> None:
    store = InMemoryOriginalsStore()
    config = HeadroomConfig(retrieval=RetrievalConfig(enabled=False))
    result = ContentRouter(config, store=store).route(read(name), profile={"max_items": 5})

    assert result.changed and result.dropped_indices
    assert result.retrieval_key is None and len(store) == 0
    assert "headroom_retrieve" not in result.compressed
    assert ContentRouter(config).store is None
    kept = ContentRouter(store=store).route(read(name), profile={"max_items": 5})
    assert kept.retrieval_key is not None and store.get(kept.retrieval_key)


def test_skip_compression_profile(router: ContentRouter) -> None:
    text = read("hdfs.log")
    result = router.route(text, profile={"skip_compression": True})
    assert result.strategy == "passthrough" and result.compressed == text
    assert "skip_compression" in result.reasons[0]


def test_max_items_profile_caps_lines(router: ContentRouter) -> None:
    text = read("hdfs.log")
    wide = router.route(text)
    narrow = router.route(text, profile={"max_items": 5})
    assert len(narrow.kept_indices) < len(wide.kept_indices)


def test_small_output_passes_through(router: ContentRouter) -> None:
    text = "\n".join(read("hdfs.log").split("\n")[:2])
    result = router.route(text)
    assert result.strategy == "passthrough" and result.compressed == text


@pytest.mark.parametrize("bad", [None, 3.5, {"a": 1}])
def test_non_text_raises(router: ContentRouter, bad: object) -> None:
    with pytest.raises(TransformError):
        router.route(bad)  # type: ignore[arg-type]
    with pytest.raises(TransformError):
        router.detect(bad)  # type: ignore[arg-type]


def test_binary_passes_through_and_ten_megabytes_of_log_are_crushed(
    router: ContentRouter,
) -> None:
    garbage = "\x00\x01\x02binary\xff" * 1000
    assert router.route(garbage).strategy == "passthrough"
    huge = (read("linux.log") * 700)[:10_000_000]
    result = router.route(huge)
    assert result.strategy == "line_crusher"
    assert result.tokens_after < 0.05 * result.tokens_before


def test_numbered_listings_of_code_are_code(router: ContentRouter) -> None:
    listing = "\n".join(f"{n:6d}\t{line}" for n, line in enumerate(CODE.split("\n"), 1))

    assert router.detect(listing) == "code"
    assert (
        router.detect("\n".join(f"{n}: {line}" for n, line in enumerate(PROSE.split("\n"))))
        == "text"
    )
