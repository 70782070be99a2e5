"""verify_chain names the first bad record and why; AuditChain fails closed."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.chain import GENESIS, AuditChain, ChainHead, Reason, Record, verify_chain
from audit.errors import AuditError, ChainError, RecordFormatError


def make_chain(n: int = 6) -> AuditChain:
    chain = AuditChain()
    chain.append("session.requested", "broker", {"ticket": "T-1"}, 1_000)
    for i in range(1, n - 1):
        chain.append("chat.sent", "viewer:v1", {"text": f"hello {i}"}, 1_000 + i)
    chain.append("session.ended", "broker", {"reason": "ended_by_engineer"}, 2_000)
    return chain


def dicts(chain: AuditChain) -> list[dict[str, Any]]:
    return [r.to_dict() for r in chain.records]


def test_good_chain_verifies() -> None:
    chain = make_chain()
    report = verify_chain(chain.records)
    assert report.ok and report.count == 6
    assert report.head == chain.head == ChainHead(6, chain.records[-1].hash)
    assert [r.seq for r in chain.records] == [1, 2, 3, 4, 5, 6]
    assert chain.records[0].prev == GENESIS
    assert all(b.prev == a.hash for a, b in zip(chain.records, chain.records[1:], strict=False))
    assert verify_chain(dicts(chain)).ok  # raw JSON objects too
    assert verify_chain([]).ok and verify_chain([]).head == ChainHead(0, GENESIS)


def test_edited_record() -> None:
    data = dicts(make_chain())
    data[3]["detail"]["text"] = "something else"
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.index, report.problem.seq, report.problem.reason) == (
        3,
        4,
        Reason.EDITED,
    )
    assert report.count == 3 and report.head.seq == 3  # the verified prefix


def test_edited_and_rehashed_record_breaks_the_next_link() -> None:
    chain = make_chain()
    data = dicts(chain)
    forged = Record.from_dict({**data[2], "actor": "someone else"})
    data[2] = {**forged.to_dict(), "hash": forged.computed_hash()}
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.reason) == (4, Reason.BROKEN_LINK)


def test_mutating_a_records_detail_is_detected() -> None:
    chain = make_chain()
    chain.records[1].detail["text"] = "rewritten in memory"
    report = verify_chain(chain.records)
    assert report.problem is not None and report.problem.reason is Reason.EDITED


def test_reordered_records() -> None:
    data = dicts(make_chain())
    data[2], data[3] = data[3], data[2]
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.index, report.problem.seq, report.problem.reason) == (
        2,
        4,
        Reason.REORDERED,
    )


def test_dropped_record() -> None:
    data = dicts(make_chain())
    del data[2]
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.index, report.problem.seq, report.problem.reason) == (
        2,
        4,
        Reason.DROPPED,
    )
    assert "3..3 missing" in str(report)


def test_dropped_first_record() -> None:
    report = verify_chain(dicts(make_chain())[1:])
    assert report.problem is not None
    assert (report.problem.index, report.problem.reason) == (0, Reason.DROPPED)


def test_duplicated_record() -> None:
    data = dicts(make_chain())
    data.insert(3, data[2])
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.index, report.problem.reason) == (3, Reason.REORDERED)


def test_gaps_allowed_only_when_asked() -> None:
    data = dicts(make_chain())
    del data[2:4]
    report = verify_chain(data, allow_gaps=True)
    assert report.ok and report.gaps == ((3, 4),)
    assert not verify_chain(data).ok


def test_appended_record_with_the_right_links_verifies_without_a_checkpoint() -> None:
    # Appending is only detectable against a checkpoint: see test_checkpoint.py.
    chain = make_chain()
    chain.append("chat.sent", "broker", {"text": "added later"}, 3_000)
    assert verify_chain(chain.records).ok


@pytest.mark.parametrize(
    ("mutate", "index"),
    [
        (lambda d: d.__setitem__(1, "not an object"), 1),
        (lambda d: d[2].pop("prev"), 2),
        (lambda d: d[2].__setitem__("seq", "3"), 2),
        (lambda d: d[2].__setitem__("seq", True), 2),
        (lambda d: d[2].__setitem__("at_ms", 1.5), 2),
        (lambda d: d[2].__setitem__("detail", {"x": 1.5}), 2),
        (lambda d: d[2].__setitem__("hash", "ABC"), 2),
        (lambda d: d[2].__setitem__("event", "Not An Event"), 2),
        (lambda d: d[2].__setitem__("actor", ""), 2),
    ],
)
def test_malformed_records(mutate: Any, index: int) -> None:
    data: list[Any] = dicts(make_chain())
    mutate(data)
    report = verify_chain(data)
    assert report.problem is not None
    assert (report.problem.index, report.problem.reason) == (index, Reason.MALFORMED)


def test_append_fails_closed() -> None:
    chain = make_chain(3)
    before = chain.records
    for bad in (
        lambda: chain.append("Bad Name", "broker", {}, 1),
        lambda: chain.append("chat.sent", "broker", {"x": 0.5}, 1),
        lambda: chain.append("chat.sent", "", {}, 1),
        lambda: chain.append("chat.sent", "broker", {}, -1),
    ):
        with pytest.raises(AuditError):
            bad()
    assert chain.records == before


def test_append_copies_detail() -> None:
    chain = AuditChain()
    detail: dict[str, Any] = {"items": [1]}
    record = chain.append("chat.sent", "broker", detail, 5)
    detail["items"].append(2)
    assert record.detail == {"items": [1]}
    assert verify_chain(chain.records).ok


def test_accept_and_continue() -> None:
    original = make_chain()
    copy = AuditChain(original.records[:3])
    for record in original.records[3:]:
        copy.accept(record)
    assert copy.head == original.head
    with pytest.raises(ChainError, match="expected seq"):
        copy.accept(original.records[1])
    with pytest.raises(ChainError):
        AuditChain([original.records[0], original.records[2]])


def test_from_dict_raises_value_error_subclass() -> None:
    with pytest.raises(ValueError):
        Record.from_dict({"seq": 1})
    with pytest.raises(RecordFormatError):
        Record.from_dict([])


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)
record_like = st.fixed_dictionaries(
    {
        "seq": st.integers(-2, 8) | json_leaf,
        "at_ms": st.integers(-1, 2**60) | json_leaf,
        "event": st.sampled_from(["chat.sent", "x", "session.ended"]) | st.text(max_size=5),
        "actor": st.text(max_size=4) | json_leaf,
        "detail": st.dictionaries(st.text(max_size=4), json_any, max_size=3) | json_any,
        "prev": st.sampled_from([GENESIS, "f" * 64]) | st.text(max_size=3),
        "hash": st.sampled_from([GENESIS, "a" * 64]) | st.text(max_size=3),
    },
    optional={"extra": json_any},
)


@settings(max_examples=150, deadline=None)
@given(st.lists(record_like | json_any, max_size=6))
def test_verify_chain_never_crashes(items: list[Any]) -> None:
    report = verify_chain(items)
    assert report.ok is (report.problem is None)
    if items and not report.ok:
        assert report.problem is not None and 0 <= report.problem.index <= len(items)
    str(report)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_any_single_edit_of_a_real_chain_is_detected(data: st.DataObject) -> None:
    records = dicts(make_chain())
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(["seq", "at_ms", "event", "actor", "detail", "prev", "hash"]))
    value = data.draw(json_any)
    if records[index][field] == value:
        return
    records[index][field] = value
    report = verify_chain(records)
    assert not report.ok
    assert report.problem is not None and report.problem.index == index
