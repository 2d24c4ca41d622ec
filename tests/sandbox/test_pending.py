"""The store of change sets waiting for an answered retry: taken once, expiring, discarded on close."""

from __future__ import annotations

from secure_mcp.sandbox.pending import PendingChanges


class Item:
    def __init__(self) -> None:
        self.discarded = 0

    def discard(self) -> None:
        self.discarded += 1


def test_an_entry_is_taken_once_and_then_counts_as_spent() -> None:
    store = PendingChanges()
    item = Item()
    store.put("call", item, 60)
    assert store.take("call") is item and store.take("call") is None
    assert store.spent("call") and not store.spent("other")
    assert item.discarded == 0  # the taker owns it now


def test_an_expired_entry_is_discarded_and_spent() -> None:
    now = [0.0]
    store = PendingChanges(clock=lambda: now[0])
    item = Item()
    store.put("call", item, 10)
    now[0] = 11
    assert store.take("call") is None and item.discarded == 1 and store.spent("call")


def test_the_store_is_bounded_and_close_discards_everything() -> None:
    store = PendingChanges(max_entries=2)
    items = [Item() for _ in range(3)]
    for index, item in enumerate(items):
        store.put(f"c{index}", item, 60 + index)
    assert items[0].discarded == 1 and len(store) == 2
    store.close()
    assert [i.discarded for i in items] == [1, 1, 1] and len(store) == 0
