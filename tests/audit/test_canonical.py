"""Canonical JSON: stable bytes (golden), and the values it refuses."""

from __future__ import annotations

import hashlib
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.canonical import MAX_SAFE_INTEGER, canonical_json
from audit.chain import GENESIS, AuditChain, record_hash
from audit.errors import CanonicalError

# Written by hand from SPEC §9's rules: sorted keys, no spaces, raw UTF-8, JSON escapes.
GOLDEN_BODY = (
    '{"actor":"client","at_ms":1767225600000,'
    '"detail":{"note":"Grüße \\"ok\\"\\n","permissions":["view","control"],"viewer_id":"v1"},'
    '"event":"consent.granted","prev":"' + GENESIS + '","seq":1}'
).encode()
GOLDEN_HASH = "ab7e04411ded90dade7b46094cc1073fdb4fd38d0deb4b062c48aa06faca4c17"


def test_golden_record_hash() -> None:
    record = AuditChain().append(
        "consent.granted",
        "client",
        {"viewer_id": "v1", "permissions": ["view", "control"], "note": 'Grüße "ok"\n'},
        1767225600000,
    )
    assert canonical_json(record.body()) == GOLDEN_BODY
    assert hashlib.sha256(GOLDEN_BODY).hexdigest() == GOLDEN_HASH
    assert record.hash == GOLDEN_HASH
    assert record_hash(record.body()) == GOLDEN_HASH


def test_key_order_and_mapping_types_do_not_matter() -> None:
    a = canonical_json({"b": 1, "a": {"d": [1, 2], "c": None}})
    b = canonical_json(MappingProxyType({"a": MappingProxyType({"c": None, "d": (1, 2)}), "b": 1}))
    assert a == b == b'{"a":{"c":null,"d":[1,2]},"b":1}'


def test_control_characters_escaped_like_javascript() -> None:
    assert canonical_json("\x00\x1f\t\u2028é") == '"\\u0000\\u001f\\t\u2028é"'.encode()


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (1.5, "floats"),
        ({"x": [float("nan")]}, "floats"),
        (MAX_SAFE_INTEGER + 1, "integer"),
        (-MAX_SAFE_INTEGER - 1, "integer"),
        ({1: "x"}, "keys must be strings"),
        ("\ud800", "valid Unicode"),
        (b"bytes", "unsupported type"),
        ({"s": {1, 2}}, "unsupported type"),
    ],
)
def test_refused_values(value: object, match: str) -> None:
    with pytest.raises(CanonicalError, match=match):
        canonical_json(value)


def test_depth_is_bounded() -> None:
    deep: object = "x"
    for _ in range(40):
        deep = [deep]
    with pytest.raises(CanonicalError, match="deeper"):
        canonical_json(deep)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
    | st.text(st.characters(exclude_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_canonical_json_round_trips_and_is_stable(value: object) -> None:
    import json

    encoded = canonical_json(value)
    assert canonical_json(json.loads(encoded)) == encoded
