"""The hash chain's rules, on plain Python links (no database)."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from flotilla.audit.chain import (
    GENESIS,
    Anchor,
    Link,
    as_stored,
    canonical,
    link_hash,
    verify,
)

T0 = datetime(2026, 1, 5, 8, 0, 0, 123456, tzinfo=UTC)


def build(n: int) -> list[Link]:
    """A good chain of n links with one changing field and one shared one."""
    links, prev = [], GENESIS
    for seq in range(1, n + 1):
        payload = {"at": T0 + timedelta(seconds=seq), "action": "test.did", "n": seq}
        h = link_hash(seq, payload, prev)
        links.append(Link(seq, payload, prev, h, f"id {seq + 100}"))
        prev = h
    return links


def relinked(links: list[Link]) -> list[Link]:
    """Rehash `links` in the order given, as someone with write access could."""
    out, prev = [], GENESIS
    for seq, link in enumerate(links, start=1):
        h = link_hash(seq, link.payload, prev)
        out.append(dataclasses.replace(link, seq=seq, prev_hash=prev, hash=h))
        prev = h
    return out


def head_of(links: list[Link]) -> Anchor:
    return Anchor(links[-1].seq, links[-1].hash, "the chain head")


def test_canonical_form_sorts_keys_and_has_no_spaces():
    assert canonical({"b": 1, "a": [1, None, "é"]}) == b'{"a":[1,null,"\\u00e9"],"b":1}'


def test_canonical_form_writes_times_in_utc_with_microseconds():
    london_summer = datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/London"))
    assert canonical(london_summer) == b'"2026-07-01T08:30:00.000000Z"'
    assert canonical(T0) == b'"2026-01-05T08:00:00.123456Z"'


def test_one_instant_in_two_time_zones_hashes_the_same():
    in_new_york = T0.astimezone(timezone(timedelta(hours=-5)))
    assert link_hash(1, {"at": T0}, GENESIS) == link_hash(1, {"at": in_new_york}, GENESIS)


def test_a_naive_time_is_refused_because_its_instant_is_unknown():
    with pytest.raises(ValueError, match="naive"):
        canonical(datetime(2026, 1, 5, 8, 0))


def test_a_type_json_lacks_is_refused_rather_than_guessed_at():
    with pytest.raises(TypeError, match="cannot chain a set"):
        canonical({"x": {1, 2}})


def test_values_are_hashed_as_a_json_column_gives_them_back():
    assert as_stored({1: (2, 3)}) == {"1": [2, 3]}
    assert as_stored(None) is None


def test_values_are_hashed_as_postgresql_jsonb_gives_them_back():
    stored = as_stored({"v": [-0.0, 1e16, -2e20, 1.5e-7, 3.0, 123456789012345.0]})
    assert canonical(stored) == (
        b'{"v":[0.0,10000000000000000,-200000000000000000000,1.5e-07,3.0,123456789012345.0]}'
    )


def test_the_hash_is_hex_sha256_and_ignores_key_order():
    h = link_hash(3, {"a": 1, "b": 2}, GENESIS)
    assert len(h) == 64
    assert int(h, 16) >= 0
    assert h == link_hash(3, {"b": 2, "a": 1}, GENESIS)


@pytest.mark.parametrize(
    "changed",
    [
        (4, {"a": 1, "b": 2}, GENESIS),
        (3, {"a": 1, "b": 3}, GENESIS),
        (3, {"a": 1, "b": 2, "c": None}, GENESIS),
        (3, {"a": 1, "b": 2}, "f" * 64),
    ],
    ids=["seq", "a value", "an added field", "prev_hash"],
)
def test_the_hash_changes_with_seq_content_and_previous_hash(changed):
    assert link_hash(*changed) != link_hash(3, {"a": 1, "b": 2}, GENESIS)


def test_a_good_chain_verifies_and_reports_its_last_link():
    links = build(50)
    verdict = verify(links, [head_of(links)])
    assert verdict.ok
    assert (verdict.count, verdict.last_seq, verdict.last_hash) == (50, 50, links[-1].hash)


def test_an_empty_chain_verifies_at_the_genesis_hash():
    verdict = verify([], [Anchor(0, GENESIS, "the chain head")])
    assert verdict.ok
    assert (verdict.count, verdict.last_seq, verdict.last_hash) == (0, 0, GENESIS)


def test_a_modified_link_is_named_as_modified():
    links = build(20)
    links[6] = dataclasses.replace(links[6], payload={**links[6].payload, "action": "test.hid"})
    assert (
        verify(links).problem == "event seq 7 (id 107): hash does not match its content (modified)"
    )


def test_a_deleted_link_is_named_as_a_gap():
    links = build(20)
    del links[6]
    assert verify(links).problem == "sequence gap after seq 6: event 7 missing (deleted)"


def test_several_deleted_links_are_named_as_one_gap():
    links = build(20)
    del links[6:9]
    assert verify(links).problem == "sequence gap after seq 6: events 7 to 9 missing (deleted)"


def test_a_deleted_first_link_is_a_gap_at_the_start():
    links = build(20)[1:]
    assert verify(links).problem == "sequence gap at the start: event 1 missing (deleted)"


def test_a_deleted_last_link_is_caught_by_the_head():
    links = build(20)
    head = head_of(links)
    problem = verify(links[:-1], [head]).problem
    assert problem == (
        "the chain ends at seq 19 but the chain head is at seq 20: "
        "event 20 missing (deleted or truncated)"
    )


def test_two_swapped_links_are_named_at_the_first_position_as_reordered():
    links = build(20)
    links[4], links[11] = (
        dataclasses.replace(links[11], seq=5),
        dataclasses.replace(links[4], seq=12),
    )
    problem = verify(links).problem
    assert problem.startswith("event seq 5 (id 112) links to ")
    assert problem.endswith("(reordered: its own hash does not fit this position)")


def test_a_link_pointed_at_another_predecessor_is_named_as_reordered():
    links = build(20)
    links[9] = dataclasses.replace(links[9], prev_hash=links[3].hash)
    problem = verify(links).problem
    assert problem.startswith("event seq 10 (id 110) links to ")
    assert "reordered" in problem


def test_a_link_rewritten_with_a_fresh_hash_is_caught_at_the_next_link():
    links = build(20)
    payload = {**links[6].payload, "action": "test.hid"}
    links[6] = dataclasses.replace(
        links[6], payload=payload, hash=link_hash(7, payload, links[5].hash)
    )
    problem = verify(links).problem
    assert problem.startswith("event seq 8 (id 108) links to ")
    assert problem.endswith("(reordered or removed)")


def test_a_duplicated_seq_is_out_of_order():
    links = build(5)
    links.insert(3, links[2])
    assert verify(links).problem == "event seq 3 (id 103) comes again after seq 3 (out of order)"


def test_a_chain_rebuilt_from_scratch_verifies_on_its_own_but_not_against_an_exported_head():
    original = build(30)
    exported = Anchor(25, original[24].hash, "the exported head")
    rebuilt = relinked([*original[:9], *original[10:]])  # event 10 removed, the rest renumbered
    assert verify(rebuilt, [head_of(rebuilt)]).ok
    problem = verify(rebuilt, [head_of(rebuilt), exported]).problem
    assert problem.startswith("event seq 25 (id 126) has hash ")
    assert "but the exported head records" in problem


def test_a_chain_cut_back_before_an_exported_head_is_truncated():
    links = build(30)
    exported = Anchor(30, links[-1].hash, "the exported head")
    problem = verify(links[:25], [head_of(links[:25]), exported]).problem
    assert problem == (
        "the chain ends at seq 25 but the exported head is at seq 30: "
        "events 26 to 30 missing (deleted or truncated)"
    )


def test_an_exported_head_of_an_empty_chain_must_be_the_genesis_hash():
    assert verify(build(3), [Anchor(0, GENESIS, "the exported head")]).ok
    assert not verify(build(3), [Anchor(0, "1" * 64, "the exported head")]).ok


def test_verification_stops_at_the_first_bad_link_without_reading_on():
    links = build(10)
    links[3] = dataclasses.replace(links[3], hash="0" * 64)

    def stream():
        yield from links[:5]
        raise AssertionError("read past the first bad link")

    assert "event seq 4 " in verify(stream()).problem


@pytest.mark.parametrize("seed", range(5))
def test_any_single_modification_deletion_or_swap_is_located(seed):
    rnd = random.Random(seed)
    n = 200
    for _ in range(20):
        original = build(n)
        links = list(original)
        a, b = sorted(rnd.sample(range(1, n + 1), 2))
        kind = rnd.choice(["modified", "deleted", "swapped"])
        if kind == "modified":
            links[a - 1] = dataclasses.replace(links[a - 1], payload={"n": -1})
            expected = f"event seq {a} "
        elif kind == "deleted":
            del links[a - 1]
            expected = f"event {a} missing"
        else:
            links[a - 1], links[b - 1] = (
                dataclasses.replace(links[b - 1], seq=a),
                dataclasses.replace(links[a - 1], seq=b),
            )
            expected = f"event seq {a} "
        assert expected in verify(links, [head_of(original)]).problem, (kind, a, b)
