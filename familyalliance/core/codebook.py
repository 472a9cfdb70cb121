"""The variable registry: one description of every exported column, in Dutch and English.

It feeds the codebook (CSV and the xlsx ``codebook`` sheet) and the SPSS variable labels,
value labels and measurement levels, so that all three always say the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from familyalliance.core import vocab
from familyalliance.core.analytics import SPLIT_LEVELS
from familyalliance.core.catalog import N_, gettext
from familyalliance.core.research import STATISTICS

ROLE_NAMES = {
    "mother": N_("Mother"),
    "father": N_("Father"),
    "stepparent": N_("Stepparent"),
    "foster_parent": N_("Foster parent"),
    "grandparent": N_("Grandparent"),
    "caregiver": N_("Other caregiver"),
    "youth": N_("Youth (adolescent)"),
    "child": N_("Child"),
    "sibling": N_("Sibling"),
    "other": N_("Other"),
}
DIMENSION_NAMES = {
    "bond": N_("Bond"),
    "goals_tasks": N_("Goals and tasks"),
    "safety": N_("Safety"),
    "shared_purpose": N_("Shared purpose"),
    "total": N_("Total"),
}


SCORE_LABELS = {
    "bond": N_("Bond score on the questionnaire's scale"),
    "goals_tasks": N_("Goals and tasks score on the questionnaire's scale"),
    "safety": N_("Safety score on the questionnaire's scale"),
    "shared_purpose": N_("Shared purpose score on the questionnaire's scale"),
    "total": N_("Total score (mean of the four dimensions) on the questionnaire's scale"),
}
POMP_LABELS = {
    "bond": N_("Bond score, POMP (0 to 100)"),
    "goals_tasks": N_("Goals and tasks score, POMP (0 to 100)"),
    "safety": N_("Safety score, POMP (0 to 100)"),
    "shared_purpose": N_("Shared purpose score, POMP (0 to 100)"),
    "total": N_("Total score, POMP (0 to 100)"),
}


#: How a form was given (metrics.md section 3, ``vocab.MODES``).
MODE_NAMES = {
    "link": N_("by personal link"),
    "round": N_("in the round on one device"),
    "paper": N_("typed in from paper"),
    "grid": N_("the therapist's grid"),
    "import": N_("imported"),
}
SPLIT_LEVEL_NAMES = {"none": N_("None"), "mild": N_("Mild"), "moderate": N_("Moderate"), "severe": N_("Severe")}
STATISTIC_NAMES = {
    "alpha": N_("Cronbach's alpha (complete forms)"),
    "icc1": N_("ICC(1): share of the variance that lies between families"),
    "icc2": N_("ICC(2): reliability of the family means"),
}


@dataclass(frozen=True)
class Variable:
    """One exported column."""

    name: str
    #: English label (translated through the catalog for Dutch).
    label: str
    #: ``code`` (text key), ``category``, ``integer``, ``number``, ``date`` or ``boolean``.
    kind: str
    #: SPSS measurement level: ``nominal``, ``ordinal`` or ``scale``.
    measure: str
    #: For categories: value -> English label, in the order of their SPSS codes (1, 2, ...).
    values: Mapping[str, str] = field(default_factory=dict)

    def labelled(self, language: str) -> str:
        """The variable's label in ``language``."""
        return gettext(self.label, language)

    def value_labels(self, language: str) -> dict[str, str]:
        """Each category value's label in ``language``."""
        return {value: gettext(label, language) for value, label in self.values.items()}


def _registry() -> dict[str, Variable]:
    """Every exported column, by name."""
    v: list[Variable] = [
        Variable("family", N_("Family case code (pseudonymised in research exports)"), "code", "nominal"),
        Variable("member", N_("Family member code (pseudonymised in research exports)"), "code", "nominal"),
        Variable("role", N_("Member's role in the family"), "category", "nominal", ROLE_NAMES),
        Variable("session", N_("Session number within the family"), "integer", "ordinal"),
        Variable("date", N_("Session date (shifted per family or left out in research exports)"), "date", "scale"),
        Variable(
            "informant",
            N_("Who rated: the member (self) or the therapist"),
            "category",
            "nominal",
            {"self": N_("The member"), "therapist": N_("The therapist")},
        ),
        Variable(
            "target",
            N_("Whom the rating is about: the therapist or the team"),
            "category",
            "nominal",
            {"therapist": N_("The therapist"), "team": N_("The team")},
        ),
        Variable("instrument", N_("Questionnaire"), "category", "nominal"),
        Variable("item", N_("Item code within the questionnaire"), "code", "nominal"),
        Variable("value", N_("Answer on the questionnaire's scale; empty when unanswered"), "integer", "ordinal"),
        Variable(
            "mode",
            N_("How the form was given; empty when unknown"),
            "category",
            "nominal",
            {mode: MODE_NAMES[mode] for mode in vocab.MODES},
        ),
        Variable("dimension", N_("Dimension of the alliance"), "category", "nominal", DIMENSION_NAMES),
        Variable("n", N_("Number of members with a score"), "integer", "scale"),
        Variable("mean", N_("Mean of the members' scores"), "number", "scale"),
        Variable("sd", N_("Standard deviation of the members' scores (n - 1)"), "number", "scale"),
        Variable("min", N_("Lowest member score"), "number", "scale"),
        Variable("max", N_("Highest member score"), "number", "scale"),
        Variable("range", N_("Highest minus lowest member score"), "number", "scale"),
        Variable("range_pomp", N_("Highest minus lowest member score, in POMP points"), "number", "scale"),
        Variable("balance", N_("Balance: 100 minus the POMP range"), "number", "scale"),
        Variable("split", N_("Split: members 25 POMP points or more apart"), "boolean", "nominal"),
        Variable(
            "split_level",
            N_("Size of the split"),
            "category",
            "ordinal",
            {level: SPLIT_LEVEL_NAMES[level] for level in SPLIT_LEVELS},
        ),
        Variable("lowest_member", N_("Member with the lowest score"), "code", "nominal"),
        Variable("caregiver_mean_pomp", N_("Mean POMP score of the caregivers"), "number", "scale"),
        Variable("young_mean_pomp", N_("Mean POMP score of the young members"), "number", "scale"),
        Variable("youth_caregiver_gap", N_("Caregivers' minus young members' mean POMP score"), "number", "scale"),
        Variable("rwg", N_("Within-family agreement (rwg, 0 to 1)"), "number", "scale"),
        Variable(
            "previous_instrument",
            N_("Questionnaire of the point before the rupture"),
            "category",
            "nominal",
        ),
        Variable("drop_pomp", N_("Drop from the previous scored session, in POMP points"), "number", "scale"),
        Variable("repaired_session", N_("Session in which the rupture was repaired"), "integer", "ordinal"),
        Variable(
            "status",
            N_("Repair status of the rupture"),
            "category",
            "nominal",
            {"repaired": N_("Repaired"), "unrepaired": N_("Unrepaired"), "open": N_("Open")},
        ),
        Variable(
            "statistic",
            N_("Statistic: Cronbach's alpha, ICC(1) or ICC(2)"),
            "category",
            "nominal",
            {statistic: STATISTIC_NAMES[statistic] for statistic in STATISTICS},
        ),
        Variable("estimate", N_("Value of the statistic; empty when it cannot be computed"), "number", "scale"),
        Variable("n_items", N_("Number of items of the dimension (alpha only)"), "integer", "scale"),
        Variable("n_cases", N_("Number of cases: complete forms (alpha) or members (ICC)"), "integer", "scale"),
        Variable("n_families", N_("Number of families the statistic draws on"), "integer", "scale"),
        # The therapist profiles (metrics.md section 11), per quarter; suppressed below 5 families.
        Variable("team", N_("Team code (pseudonymised)"), "code", "nominal"),
        Variable(
            "therapist", N_("Therapist code (pseudonymised); empty for the team's own profile"), "code", "nominal"
        ),
        Variable("period", N_("Calendar quarter of the profile (year-Qn)"), "code", "ordinal"),
        Variable(
            "group",
            N_("Members the profile reads: all, the caregivers, or the young members"),
            "category",
            "nominal",
            {"all": N_("All members"), "caregiver": N_("Caregivers"), "young": N_("Young members")},
        ),
        Variable("families", N_("Families with a session in the quarter"), "integer", "scale"),
        Variable("sessions", N_("Family-sessions in the quarter"), "integer", "scale"),
        Variable(
            "split_share",
            N_("Share of family-sessions with two members' totals 25 POMP points or more apart (0 to 1)"),
            "number",
            "scale",
        ),
        Variable(
            "mean_balance", N_("Mean balance of those family-sessions (100 minus the POMP range)"), "number", "scale"
        ),
        Variable("ruptures", N_("Ruptures of the members' own total in the quarter"), "integer", "scale"),
        Variable("repaired_share", N_("Share of those ruptures repaired (0 to 1)"), "number", "scale"),
        Variable(
            "mean_abs_gap",
            N_("Mean absolute gap between the members' and the therapist's view (POMP)"),
            "number",
            "scale",
        ),
        Variable("mean_pomp", N_("Mean of the members' own total POMP scores"), "number", "scale"),
        Variable("suppressed", N_("Measures left empty: fewer than 5 families in this profile"), "boolean", "nominal"),
    ]
    for dimension in (*vocab.DIMENSIONS, "total"):
        v.append(Variable(dimension, SCORE_LABELS[dimension], "number", "scale"))
        v.append(Variable(f"{dimension}_pomp", POMP_LABELS[dimension], "number", "scale"))
    return {variable.name: variable for variable in v}


VARIABLES = _registry()


def variables(columns: Iterable[str], instruments: Iterable[str] = ()) -> list[Variable]:
    """The registry's variables for ``columns``; ``instrument`` gets the installed codes as its values."""
    out = []
    for name in columns:
        variable = VARIABLES[name]
        if name in ("instrument", "previous_instrument"):
            variable = Variable(
                variable.name,
                variable.label,
                variable.kind,
                variable.measure,
                {code: code for code in sorted(instruments)},
            )
        out.append(variable)
    return out


CODEBOOK_COLUMNS = ["variable", "type", "measure", "label_en", "label_nl", "values_en", "values_nl"]


def codebook_rows(columns: Iterable[str], instruments: Iterable[str] = ()) -> list[dict[str, str]]:
    """One row per exported column, in both languages; category values as ``code=label`` pairs."""
    rows = []
    for variable in variables(columns, instruments):
        rows.append(
            {
                "variable": variable.name,
                "type": variable.kind,
                "measure": variable.measure,
                "label_en": variable.labelled("en"),
                "label_nl": variable.labelled("nl"),
                "values_en": "; ".join(f"{k}={v}" for k, v in variable.value_labels("en").items()),
                "values_nl": "; ".join(f"{k}={v}" for k, v in variable.value_labels("nl").items()),
            }
        )
    return rows
