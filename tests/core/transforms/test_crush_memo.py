"""A router's memory of crush outcomes: what agent loops send again at every step."""

from __future__ import annotations

import json

from headroom_core.retrieval import InMemoryOriginalsStore
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.router import ContentRouter

TOKENIZER = get_tokenizer("gpt-4o")
ROWS = json.dumps(
    [{"id": 1000 + i, "status": "failed" if i == 77 else "ok", "ms": i % 9} for i in range(400)]
)


def test_the_same_crush_is_answered_from_memory_with_the_same_text() -> None:
    router = ContentRouter()
    first = router.remembered.route(ROWS, query="which job failed?", tokenizer=TOKENIZER)
    second = router.remembered.route(ROWS, query="which job failed?", tokenizer=TOKENIZER)

    assert first.changed and first.retrieval_key
    assert second.compressed is first.compressed
    assert (second.tokens_before, second.tokens_after, second.strategy, second.retrieval_key) == (
        first.tokens_before,
        first.tokens_after,
        first.strategy,
        first.retrieval_key,
    )
    other_query = router.remembered.route(ROWS, query="slowest job", tokenizer=TOKENIZER)
    assert len(router.remembered) == 2 and other_query is not second


def test_an_outcome_whose_key_expired_is_crushed_again_and_stored_again() -> None:
    now = [0.0]
    store = InMemoryOriginalsStore(ttl_seconds=10, clock=lambda: now[0])
    router = ContentRouter(store=store)
    first = router.remembered.route(ROWS, query="", tokenizer=TOKENIZER)
    assert first.retrieval_key and store.has(first.retrieval_key)

    now[0] = 60.0
    assert not store.has(first.retrieval_key)
    again = router.remembered.route(ROWS, query="", tokenizer=TOKENIZER)
    assert again.compressed == first.compressed
    assert store.has(again.retrieval_key)
