"""Where a lead came from, read from the first message's channel metadata."""

from rasa_sdk import Tracker

from actions.capture_lead import lead_source
from actions.dialogue import conversation_channel


def user(metadata: dict[str, object]) -> dict[str, object]:
    return {"event": "user", "text": "hi", "metadata": metadata}


def test_a_telegram_deep_link_payload_is_the_source() -> None:
    events = [{"event": "action"}, user({"channel": "telegram", "source": "spring_campaign"}), user({})]
    assert lead_source(events, "rest") == "spring_campaign"


def test_utm_source_and_campaign_of_the_page() -> None:
    events = [
        user({"utm": {"source": "newsletter", "campaign": "autumn"}, "referrer": "https://x.example/a"})
    ]
    assert lead_source(events, "socketio") == "newsletter/autumn"


def test_the_referring_site_when_there_is_no_utm() -> None:
    assert (
        lead_source([user({"utm": {}, "referrer": "https://www.google.com/search?q=x"})], "socketio")
        == "www.google.com"
    )


def test_the_channel_when_nothing_else_is_known() -> None:
    assert lead_source([user({"channel": "website", "referrer": None})], "socketio") == "website"
    assert lead_source([user({})], "rest") == "rest"
    assert lead_source([], "rest") == "rest"


def tracker(events: list[dict[str, object]], input_channel: str) -> Tracker:
    with_channel = [{**e, "input_channel": input_channel} if e.get("event") == "user" else e for e in events]
    return Tracker("telegram-1", {}, {}, with_channel, False, None, {}, "action_listen")


def test_the_conversation_channel_is_the_one_the_adapter_names_else_rasas() -> None:
    assert conversation_channel(tracker([user({"channel": "telegram"})], "rest")) == "telegram"
    assert conversation_channel(tracker([user({"locale": "es-ES"})], "socketio")) == "socketio"
    assert conversation_channel(tracker([], "rest")) == "unknown"
