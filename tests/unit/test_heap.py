"""What a long-running process loaded at start is kept out of the collector's passes (ADR 0044)."""

from __future__ import annotations

import gc
import weakref

import pytest

from flotilla.heap import freeze_what_is_loaded


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the collector can free it


@pytest.fixture
def thawed():
    """Every test leaves the test process's collector as it found it."""
    yield
    gc.unfreeze()


def tracked(obj) -> bool:
    return any(o is obj for o in gc.get_objects())


def test_what_is_alive_when_it_is_called_is_frozen_and_what_comes_after_is_not(thawed):
    before = Node()
    frozen = freeze_what_is_loaded()
    after = Node()
    assert frozen == gc.get_freeze_count() > 0
    assert not tracked(before), "made before: out of the collector's view"
    assert tracked(after), "made after: collected as before"


def test_garbage_made_before_the_call_is_collected_first_not_frozen(thawed):
    # A cycle already unreachable is freed by the one collection before freezing, so what is
    # frozen is only what is alive.
    gone = weakref.ref(Node())
    assert gone() is not None, "a cycle outlives its last reference until a collection"
    freeze_what_is_loaded()
    assert gone() is None


def test_cycles_made_after_the_call_are_still_freed(thawed):
    freeze_what_is_loaded()
    gone = weakref.ref(Node())
    gc.collect()
    assert gone() is None
