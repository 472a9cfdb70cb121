"""The member's questionnaire as the server renders it (docs/questionnaire.md): one row of native radio buttons per
question with the scale's end labels at its ends; a child's check4 in five steps with faces, stored as the
instrument's own 0..10 values (0, 2, 5, 8, 10: docs/instruments.md); alliance16 in four parts, one per dimension,
all of them in one form so that a browser without JavaScript sends every answer."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from familyalliance.core.instruments import builtin_instruments, load_definition
from familyalliance.services import requests
from familyalliance.store.db import db
from familyalliance.store.models import Member, Response
from familyalliance.web.questionnaire.views import answer_steps

from ..factories import commit, gen_family, gen_member, gen_session

CHECK4 = ("bond", "goals_tasks", "safety", "shared_purpose")


def plan_for_mother(session, instrument: str) -> None:
    """The mother's questionnaire at ``session``, as a therapist sets it on the session page (children keep check4)."""
    for attendance in session.attendance:
        if attendance.member.role == "mother":
            attendance.instrument = instrument


@pytest.fixture
def links(app) -> dict[tuple[str, int], str]:
    """Sandra (mother) and Daan (child) at sessions 2 (check4 for both) and 4 (alliance16 for Sandra, whatever
    the default plan says): (member code, session) -> link path."""
    with app.app_context():
        family = gen_family("FAM-Q")
        members = [gen_member(family, "M1", "mother", "Sandra"), gen_member(family, "C1", "child", "Daan")]
        made = {}
        for number, instrument in ((2, "check4"), (4, "alliance16")):
            session = gen_session(family, number, present=members)
            plan_for_mother(session, instrument)
            made |= {(r.member.code, number): f"/r/{token}" for r, token in requests.make_links(session)}
        commit()
    return made


def radios(html: str, name: str) -> list[str]:
    """The values of the radio buttons of one question, in the order shown."""
    return re.findall(rf'<input type="radio" name="{name}" value="(-?\d+)"', html)


def fieldset(html: str, code: str) -> str:
    return re.search(rf'<fieldset class="question[^"]*" id="q-{code}".*?</fieldset>', html, re.S).group(0)


def stored(app, member: str, instrument: str) -> dict[str, int | None]:
    with app.app_context():
        return dict(
            db.session.execute(
                sa.select(Response.item, Response.value)
                .join(Member, Member.id == Response.member_id)
                .where(Member.code == member, Response.instrument == instrument)
            ).all()
        )


def test_answer_steps():
    """Every point for an adult and for a short scale; a child's longer scale in five symmetric steps."""
    instruments = builtin_instruments()
    assert answer_steps(instruments["check4"], child=False) == list(range(11))
    assert answer_steps(instruments["check4"], child=True) == [0, 2, 5, 8, 10]
    assert answer_steps(instruments["alliance16"], child=True) == [1, 2, 3, 4, 5]
    seven = dict(instruments["alliance16"].definition, code="seven")
    seven["scale"] = {"min": 1, "max": 7, "anchors": [{"value": v, "label": {"nl": "x", "en": "x"}} for v in (1, 7)]}
    steps = answer_steps(load_definition(seven), child=True)
    assert steps == [1, 3, 4, 5, 7] and [1 + 7 - s for s in reversed(steps)] == steps


def test_child_check4_five_steps_with_faces(app, links):
    """A child's question: five faces in one row, named for screen readers, the end labels at the ends."""
    html = app.test_client().get(links[("C1", 2)] + "?lang=en").text
    for code in CHECK4:
        assert radios(html, code) == ["0", "2", "5", "8", "10"]
    assert html.count('<svg class="face"') == 4 * 5
    question = fieldset(html, "bond")
    assert (
        '<legend id="q-bond-text"><span class="number">1.</span> I feel that the therapist listens to me.' in question
    )
    names = re.findall(r'<span class="visually-hidden">([^<]+)</span>', question)
    assert names == ["not at all", "a little", "half", "a lot", "very much"]
    ends = re.findall(r'<span class="end ([^"]+)">([^<]+)</span>', question)
    assert ends == [("first s2", "not at all"), ("mid c3 s1", "half"), ("last s2", "very much")]
    assert "data-slider" not in question  # a child always taps steps


@pytest.mark.parametrize("value", [0, 2, 5, 8, 10])
def test_a_childs_step_is_stored_as_its_value(app, links, value):
    """Each of the five steps stores the instrument's own value (POMP = value * 10)."""
    phone = app.test_client()
    page = phone.get(links[("C1", 2)]).text
    assert f'name="safety" value="{value}"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = phone.post(links[("C1", 2)], data={"csrf_token": token, **dict.fromkeys(CHECK4, str(value))})
    assert sent.status_code == 200
    assert stored(app, "C1", "check4") == dict.fromkeys(CHECK4, value)


def test_an_earlier_answer_off_the_steps_is_kept(app, links):
    """A draft value between the child's steps (typed elsewhere) is shown, checked, so sending keeps it."""
    client = app.test_client()
    assert client.post(links[("C1", 2)] + "/draft", json={"bond": "7"}).status_code == 200
    html = client.get(links[("C1", 2)]).text
    assert radios(html, "bond") == ["0", "2", "5", "7", "8", "10"]
    assert re.search(r'name="bond" value="7" checked', html)
    assert radios(html, "safety") == ["0", "2", "5", "8", "10"]


def test_adult_check4_eleven_points_end_labels_at_the_ends(app, links):
    """An adult keeps the full 0..10; the row may become a slider (data-slider), the radio buttons stay."""
    html = app.test_client().get(links[("M1", 2)] + "?lang=en").text
    assert '<svg class="face"' not in html
    question = fieldset(html, "goals_tasks")
    assert radios(question, "goals_tasks") == [str(v) for v in range(11)]
    assert 'class="answers points-11" data-slider' in question
    assert 'name="goals_tasks" value="0" aria-label="0, not at all">' in question
    assert 'name="goals_tasks" value="7">' in question and '<span class="value">7</span>' in question
    labels = re.findall(r'<span class="end ([^"]+)">([^<]+)</span>', question)
    assert labels == [("first s4", "not at all"), ("mid c5 s3", "half"), ("last s4", "very much")]


def test_alliance16_in_four_parts(app, links):
    """Four parts of four questions, numbered 1..16 through the parts; one form, one send."""
    html = app.test_client().get(links[("M1", 4)] + "?lang=en").text
    parts = re.findall(
        r'<section class="part" id="part-(\d)" aria-labelledby="part-\d-title">(.*?)</section>', html, re.S
    )
    assert [number for number, _ in parts] == ["1", "2", "3", "4"]
    titles = [re.search(r"<h2[^>]*>(.*?)</h2>", part, re.S).group(1) for _, part in parts]
    assert [re.sub(r"<[^>]+>", "", t) for t in titles] == [
        "Part 1 of 4: Trust",
        "Part 2 of 4: Our goals",
        "Part 3 of 4: Feeling safe",
        "Part 4 of 4: Together as a family",
    ]
    for (number, part), dimension in zip(parts, ("bond", "goals_tasks", "safety", "shared_purpose"), strict=True):
        codes = re.findall(r'id="q-(\w+)"', part)
        assert codes == [f"{dimension}_{i}" for i in range(1, 5)]
        first = 4 * (int(number) - 1) + 1
        assert re.findall(r'<span class="number">(\d+)\.</span>', part) == [str(n) for n in range(first, first + 4)]
    assert html.count('type="submit"') == 1
    assert 'data-next-text="Next" data-previous-text="Previous"' in html
    # Every label of a fully labelled scale is there; the narrow layout shows only the ends.
    labels = re.findall(r'<span class="end ([^"]+)">([^<]+)</span>', fieldset(html, "bond_1"))
    assert labels == [
        ("first s2", "not at all"),
        ("inner c2 s1", "a little"),
        ("mid c3 s1", "somewhat"),
        ("inner c4 s1", "mostly"),
        ("last s2", "completely"),
    ]
    assert '<div class="ends all" aria-hidden="true">' in html


def test_alliance16_sent_whole_without_script(app, links):
    """All four parts are in the one form: a browser without JavaScript sends the sixteen answers at once."""
    phone = app.test_client()
    page = phone.get(links[("M1", 4)]).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    codes = re.findall(r'<fieldset class="question" id="q-(\w+)"', page)
    assert len(codes) == 16
    answers = {code: str(1 + i % 5) for i, code in enumerate(codes)}
    assert phone.post(links[("M1", 4)], data={"csrf_token": token, **answers}).status_code == 200
    assert stored(app, "M1", "alliance16") == {code: int(v) for code, v in answers.items()}


def test_a_problem_is_shown_at_its_question(app, links):
    """An out-of-range value comes back with the message at its question, described for screen readers."""
    phone = app.test_client()
    page = phone.get(links[("M1", 2)] + "?lang=en").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = phone.post(links[("M1", 2)] + "?lang=en", data={"csrf_token": token, "safety": "12"})
    assert sent.status_code == 422
    question = fieldset(sent.text, "safety")
    assert 'class="question has-error" id="q-safety" aria-describedby="q-safety-error"' in question
    assert '<p class="error" id="q-safety-error">' in question


def test_stylesheet_linked_and_no_inline_style(app, links, client, auth):
    """The questionnaire's stylesheet on the link's page and in the tablet round; nothing the CSP would block."""
    html = app.test_client().get(links[("C1", 2)]).text
    assert '<link rel="stylesheet" href="/static/questionnaire.css">' in html
    assert " style=" not in html and "<style" not in html
    with client.get("/static/questionnaire.css") as stylesheet:
        assert stylesheet.status_code == 200
    with app.app_context():
        from familyalliance.store.models import User

        from ..factories import gen_user

        user = gen_user("therapist", "Team A", "ann@example.org")
        family = db.session.scalar(sa.select(Member).where(Member.code == "C1")).family
        family.therapists.append(db.session.get(User, user.id))
        commit()
    auth.login("ann@example.org")
    assert client.post("/round/start/FAM-Q/2").status_code == 302
    pick = client.get("/round/").text
    daan = re.search(r'href="(/round/\d+)">Daan', pick).group(1)
    round_page = client.get(daan).text
    assert '<link rel="stylesheet" href="/static/questionnaire.css">' in round_page
    assert radios(round_page, "bond") == ["0", "2", "5", "8", "10"]
    assert " style=" not in round_page
