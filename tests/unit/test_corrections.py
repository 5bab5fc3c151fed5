"""What a correction after the lead was saved changes (actions/corrections.py), read by crm_core.understanding."""

from actions.corrections import stated_facts


def test_a_corrected_email_is_normalised() -> None:
    assert stated_facts("ugh, typo: it is really Mia@HarbourHomes.example", "US") == {
        "email": "Mia@harbourhomes.example"
    }


def test_a_corrected_phone_is_read_in_the_visitors_region_and_its_digits_are_not_a_budget() -> None:
    assert stated_facts("perdona, el bueno es el 633 444 556", "ES") == {"phone": "+34633444556"}


def test_a_new_budget_and_timeline() -> None:
    facts = stated_facts("we could stretch the budget to 35k and need it within three weeks", "US")
    assert facts["budget_amount"] == "35000" and facts["timeline_days"] == 21
    assert "email" not in facts and "phone" not in facts


def test_a_role_needs_the_first_person() -> None:
    assert stated_facts("actually I'm the owner", "US") == {"authority": "decision_maker"}
    assert stated_facts("the owner likes it", "US") == {}


def test_a_message_with_nothing_to_correct() -> None:
    assert stated_facts("the flats are mostly by the sea", "US") == {}
