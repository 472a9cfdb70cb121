"""The fixed words of the data contract (``metrics.md``): one name for one thing everywhere."""

import re

#: The four dimensions of the family working alliance (metrics.md section 1).
DIMENSIONS = ("bond", "goals_tasks", "safety", "shared_purpose")

#: Member roles, split into the groups that the family metrics compare (metrics.md section 3).
CAREGIVER_ROLES = ("mother", "father", "stepparent", "foster_parent", "grandparent", "caregiver")
YOUNG_ROLES = ("youth", "child", "sibling")
ROLES = CAREGIVER_ROLES + YOUNG_ROLES + ("other",)

#: Who gives a rating, and whom the rating is about.
INFORMANTS = ("self", "therapist")
TARGETS = ("therapist", "team")

#: How a form was given (metrics.md section 3, the optional ``mode`` column).
MODES = ("link", "round", "paper", "grid", "import")

#: Case codes and member codes: 1..64 letters, digits, ``-``, ``_`` or ``.``.
CODE_MAX_LENGTH = 64
CODE_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

#: Accounts.
USER_ROLES = ("therapist", "team_lead", "researcher", "admin")
#: Account roles that carry a caseload and may be assigned to families.
CLINICAL_ROLES = ("therapist", "team_lead")

#: Where a family stands in treatment.
FAMILY_STATUSES = ("active", "paused", "closed")

#: The languages of the app's texts, a member's messages and questionnaires; English is the source language.
LANGUAGES = ("nl", "en")


def is_valid_code(value: str) -> bool:
    """Return whether ``value`` is a valid family or member code."""
    return bool(CODE_PATTERN.fullmatch(value))
