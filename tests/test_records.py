"""Records as users have them (issue 12): a QA export's extra columns are carried unchanged to
the output line; a near miss of a known field is an error naming the field meant."""
from __future__ import annotations

import pytest

from nlp_guard import Guard
from nlp_guard.batch import Record, meant_field, screen_record


@pytest.fixture(scope="module")
def guard() -> Guard:
    return Guard()


# extra fields carried unchanged (a message and a transcript)
CARRIED = [
    {"id": "c1", "text": "您好，请按时还款", "call_id": "CALL-7", "agent_id": "A12", "duration": 93.5,
     "labels": ["compliant"], "uid": 4},
    {"id": "c2", "text": "老赖，再不还钱后果自负", "labels": {"threat": 1}, "qa": None, "agent": "王五"},
    {"id": "t1", "turns": [{"speaker": "agent", "text": "您好，请按时还款"}], "call_id": "CALL-8", "duration": 12,
     "labels": []},
]

# (record, the bad field, the field meant)
NEAR_MISSES = [
    ({"id": "n1", "txet": "您好"}, "txet", "text"),
    ({"id": "n2", "text": "您好", "recipent": "debtor"}, "recipent", "recipient"),
    ({"id": "n3", "text": "您好", "Recipient": "debtor"}, "Recipient", "recipient"),
    ({"id": "n4", "TEXT": "您好"}, "TEXT", "text"),
    ({"id": "n5", "text": "您好", "chanel": "sms"}, "chanel", "channel"),
    ({"id": "n6", "turn": [{"speaker": "agent", "text": "您好"}]}, "turn", "turns"),
    ({"id": "n7", "turns": [{"speaker": "agent", "text": "您好"}], "agentid": "A1"}, "agentid", "agent_id"),
    ({"id": "n8", "text": "您好", "Id": "x"}, "Id", "id"),
]


@pytest.mark.parametrize("obj", CARRIED, ids=[c["id"] for c in CARRIED])
def test_unknown_fields_are_carried_unchanged(guard: Guard, obj: dict) -> None:
    out = screen_record(guard, Record(1, obj))
    assert "error" not in out, out
    for k, v in obj.items():
        if k not in ("text", "turns"):
            assert out[k] == v


def test_carried_fields_do_not_change_the_decision(guard: Guard) -> None:
    plain = screen_record(guard, Record(1, {"id": "c2", "text": "老赖，再不还钱后果自负"}))
    extra = screen_record(guard, Record(1, CARRIED[1]))
    assert {k: extra[k] for k in plain} == plain


@pytest.mark.parametrize(("obj", "bad", "meant"), NEAR_MISSES, ids=[n[1] for n in NEAR_MISSES])
def test_near_miss_names_the_field_meant(guard: Guard, obj: dict, bad: str, meant: str) -> None:
    out = screen_record(guard, Record(3, obj))
    assert out["error"]["line"] == 3
    assert f"{bad}: unknown field; did you mean {meant!r}?" in out["error"]["message"]


@pytest.mark.parametrize("name", ["decision", "violations", "scores"])
def test_a_field_the_output_uses_is_an_error(guard: Guard, name: str) -> None:
    out = screen_record(guard, Record(1, {"id": "x", "text": "您好", name: "gold"}))
    assert name in out["error"]["message"] and "rename" in out["error"]["message"]


@pytest.mark.parametrize(("name", "meant"), [
    ("uid", None), ("ids", None), ("call_id", None), ("duration", None), ("labels", None), ("agent", None),
    ("texts", "text"), ("sentat", "sent_at"), ("debtorid", "debtor_id"), ("CHANNEL", "channel"),
])
def test_meant_field(name: str, meant: str | None) -> None:
    assert meant_field(name, {"id", "text", "turns", "recipient", "channel", "sent_at", "agent_id", "debtor_id",
                              "contact", "call_time"}) == meant
