"""The agent's reader applies the shared ``protocol.Connection`` to what its broker
sends: non-fatal mistakes are skipped, a fatal one closes with its SPEC §7 code."""

from agent.connection import broker_connection, received
from protocol.connection import BinaryReceived, ControlReceived
from protocol.media import AckFrame
from protocol.messages import Chat, serialize_control


def test_messages_pass_and_mistakes_are_skipped() -> None:
    conn = broker_connection()
    assert received(conn, serialize_control(Chat("hi"))) == [ControlReceived(Chat("hi"))]
    assert received(conn, '{"type":"teleport"}') == []  # unknown type: skipped, still open
    assert received(conn, bytes(AckFrame(3))) == [BinaryReceived(AckFrame(3))]
    assert not conn.closed and conn.data_to_send() == []  # no error replies to the broker


def test_a_fatal_mistake_closes_with_its_code() -> None:
    conn = broker_connection()
    assert received(conn, "{not json") == []
    assert (conn.close_code, conn.close_reason) == (4400, "malformed_json")
    assert received(conn, serialize_control(Chat("late"))) == []  # nothing after the close


def test_no_rate_limit_on_the_brokers_traffic() -> None:
    conn = broker_connection()
    for _ in range(500):
        received(conn, serialize_control(Chat("x")))
    assert not conn.closed
