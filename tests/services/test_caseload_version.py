"""The caseload version moves with every change to what a user's caseload shows, and with nothing else.

It reads no family (``caseload.version``): the user's ``assigned_revision`` and a team lead's team's
``revision``; each path that changes, adds, assigns or removes a family must raise one of them.
"""

from __future__ import annotations

import sqlalchemy as sa

from familyalliance.services import caseload, casework, policy
from familyalliance.store import summaries
from familyalliance.store.db import db
from familyalliance.store.models import Family, User

from ..factories import commit, gen_family, gen_member, gen_user


def current(user_id: int) -> tuple:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    families_version, _, _ = caseload.version(policy.visible_families(user), user)
    return families_version


def test_every_change_to_a_leads_caseload_changes_its_version(app):
    with app.app_context():
        lead = gen_user("team_lead", "Team A", "lead@example.org")
        other = gen_user("therapist", "Team B", "bob@example.org")
        own = gen_family("A-1", [other], "Team A")
        elsewhere = gen_family("B-1", [other], "Team B")
        commit()
        lead_id, seen = lead.id, []

        def changed() -> bool:
            now = current(lead_id)
            moved = not seen or now != seen[-1]
            seen.append(now)
            return moved

        assert changed()
        assert not changed()  # nothing happened
        gen_member(own, "M1")  # a change to a family of the team
        commit()
        assert changed()
        gen_family("A-2", [], "Team A")  # a family opened in the team
        commit()
        assert changed()
        gen_member(elsewhere, "M1")  # another team's family, not assigned: not in the caseload
        gen_family("B-2", [other], "Team B")
        commit()
        assert not changed()
        lead = db.session.get(User, lead_id)
        casework.update_family(elsewhere, "B-1", elsewhere.start_date, "active", [other, lead])  # assigned to the lead
        commit()
        assert changed()
        gen_member(elsewhere, "M2")  # a change to an assigned family outside the team
        commit()
        assert changed()
        casework.update_family(elsewhere, "B-1", elsewhere.start_date, "active", [other])  # taken from the lead
        commit()
        assert changed()
        casework.update_family(own, "A-1b", own.start_date, "closed", [other])  # renamed and closed
        commit()
        assert changed()
        casework.erase_family(own)  # erased
        commit()
        assert changed()
        # Storing the summaries changes nothing the caseload shows: the version stays.
        visible = policy.visible_families(db.session.get(User, lead_id))
        summaries.refresh(summaries.stale_families(visible, "key"), caseload_settings(app), "key")
        commit()
        assert not changed()


def test_a_therapists_version_follows_the_families_assigned_to_them(app):
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("A-1", [therapist], "Team A")
        gen_family("A-2", [], "Team A")
        commit()
        before = current(therapist.id)
        gen_family("A-3", [], "Team A")  # a family of the team, not theirs
        commit()
        assert current(therapist.id) == before
        gen_member(family, "M1")
        commit()
        assert current(therapist.id) != before


def test_stale_families_are_those_behind_their_summary(app):
    with app.app_context():
        therapist = gen_user("therapist", "Team A", "ann@example.org")
        family = gen_family("A-1", [therapist], "Team A")
        commit()
        visible = policy.visible_families(therapist)
        assert summaries.stale_families(visible, "key") == [(family.id, 0)]  # no summary yet
        summaries.refresh([(family.id, 0)], caseload_settings(app), "key")
        commit()
        assert summaries.stale_families(visible, "key") == []
        gen_member(family, "M1")
        commit()
        assert summaries.stale_families(visible, "key") == [(family.id, 1)]
        assert db.session.scalar(sa.select(Family.summary_due).where(Family.id == family.id))
        summaries.refresh([(family.id, 1)], caseload_settings(app), "key")
        commit()
        assert not db.session.scalar(sa.select(Family.summary_due).where(Family.id == family.id))


def test_filter_choices_of_a_lead_without_reading_the_teams_families(app):
    with app.app_context():
        lead = gen_user("team_lead", "Team A", "lead@example.org")
        ann = gen_user("therapist", "Team A", "ann@example.org")
        gen_user("therapist", "Team A", "idle@example.org")  # no family: not offered
        moved = gen_user("therapist", "Team C", "moved@example.org")  # of another team, with a family of Team A
        bob = gen_user("therapist", "Team B", "bob@example.org")
        gen_family("A-1", [ann, moved], "Team A")
        gen_family("B-1", [bob, lead], "Team B")  # assigned to the lead
        gen_family("B-2", [bob], "Team B")
        gen_family("C-1", [], "Team C")
        commit()
        teams, therapists = caseload.filter_choices(policy.visible_families(lead), lead)
        assert [name for _, name in teams] == ["Team A", "Team B"]
        assert [email for _, email in therapists] == [
            "ann@example.org",
            "bob@example.org",
            "lead@example.org",
            "moved@example.org",
        ]


def caseload_settings(app):
    from familyalliance import config

    return config.analytics_settings(app)
