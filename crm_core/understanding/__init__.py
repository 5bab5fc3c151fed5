"""Understanding visitors: what they type → values the policy and the CRM understand. Pure functions.

English and Spanish. One module per kind of value: ``timeline`` (when: days until needed), ``money``
(budget, currency, period → yearly figure), ``people`` (names, companies, head counts), ``authority``
(who decides), ``contact`` (e-mail, phone), ``messages`` (questions, corrections, a need stated with a
request) and ``language``.
Maintained libraries do the hard parts (Duckling for the calendar, ``phonenumbers``, ``email-validator``,
``lingua``); the rules here say what a value means for a lead. Import from this package, not its modules.
"""

from crm_core.understanding.authority import parse_authority
from crm_core.understanding.contact import (
    DEFAULT_PHONE_REGIONS,
    find_email,
    find_phone,
    mentions_email,
    parse_email,
    parse_phone,
    phone_regions,
    says_has_none,
)
from crm_core.understanding.language import detect_language, language_from_locale
from crm_core.understanding.meeting_time import wished_time
from crm_core.understanding.messages import (
    is_correction,
    is_question,
    parse_yes_no,
    says_bought_elsewhere,
    says_not_buying,
    states_need,
)
from crm_core.understanding.money import Budget, mentions_budget, parse_budget
from crm_core.understanding.people import (
    find_company,
    find_person_name,
    parse_company,
    parse_company_size,
    parse_person_name,
)
from crm_core.understanding.timeline import mentions_timeline, parse_timeline_days, today_in

__all__ = [
    "DEFAULT_PHONE_REGIONS",
    "Budget",
    "detect_language",
    "find_company",
    "find_email",
    "find_person_name",
    "find_phone",
    "is_correction",
    "is_question",
    "language_from_locale",
    "mentions_budget",
    "mentions_email",
    "mentions_timeline",
    "parse_authority",
    "parse_budget",
    "parse_company",
    "parse_company_size",
    "parse_email",
    "parse_person_name",
    "parse_phone",
    "parse_timeline_days",
    "parse_yes_no",
    "phone_regions",
    "says_bought_elsewhere",
    "says_has_none",
    "says_not_buying",
    "states_need",
    "today_in",
    "wished_time",
]
