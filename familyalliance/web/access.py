"""The authorisation policy of the pages, in one place: which role may use which page.

Pages: every view declares who may use it, with :func:`public` (on purpose: logging in,
the health check, the Vega bundle and member links) or :func:`roles`. :func:`guard` runs
before every request and refuses what is not declared: an anonymous user is sent to the
login page, a logged-in user whose role is not named gets 403, and a view that declares
nothing is refused to everyone (fail closed). The route-by-role test walks every URL rule
of the app for every role.

Which families each role sees is the data side of the policy, ``services.policy``. Every
view that touches a family gets it through :func:`family_or_404`, so a family the user may
not see answers 404, exactly as a family that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, current_app, g, request
from flask_login import current_user

from familyalliance.core import vocab
from familyalliance.services import policy
from familyalliance.store.db import db
from familyalliance.store.models import Family, TherapySession, User
from familyalliance.web.extensions import login_manager

#: Roles that carry a caseload and may create families.
CLINICAL_ROLES = vocab.CLINICAL_ROLES
#: Roles that may open the pages of a family (which families: ``visible_families``).
FAMILY_ROLES = ("therapist", "team_lead", "admin")
#: Every role: pages of one's own account.
ANY_ROLE = vocab.USER_ROLES
#: Endpoints Flask adds itself, public on purpose (the stylesheet, scripts and icons).
PUBLIC_ENDPOINTS = frozenset({"static"})
PUBLIC = "public"


def public(view: Callable) -> Callable:
    """Declare a view open to anyone, logged in or not (say why in its docstring)."""
    view.access = PUBLIC
    return view


def roles(*allowed: str) -> Callable[[Callable], Callable]:
    """Declare the roles that may use a view; anyone else gets 403, anonymous users the login page."""
    unknown = set(allowed) - set(vocab.USER_ROLES)
    if unknown or not allowed:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def declare(view: Callable) -> Callable:
        view.access = frozenset(allowed)
        return view

    return declare


def rule_for(endpoint: str):
    """The declared rule of an endpoint: ``PUBLIC``, a set of roles, or None (undeclared)."""
    if endpoint in PUBLIC_ENDPOINTS:
        return PUBLIC
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "access", None)


def allowed(user: User, endpoint: str) -> bool:
    """Whether ``user`` may use the page ``endpoint`` (for showing links to it)."""
    rule = rule_for(endpoint)
    if rule == PUBLIC:
        return True
    return rule is not None and user.is_authenticated and user.role in rule


def home(user: User) -> str:
    """The page a user starts on: the caseload; the exports for a researcher, the accounts for an admin."""
    return {"researcher": "data.export", "admin": "admin.users"}.get(user.role, "caseload.show")


def may(endpoint: str) -> bool:
    """Whether the current user may use the page ``endpoint`` (templates: which links to show)."""
    return allowed(current_user, endpoint)


def guard():
    """Before every request: let through what the endpoint's declared rule allows, refuse the rest."""
    if request.endpoint is None:  # no route: the 404 (or 405) follows
        return None
    rule = rule_for(request.endpoint)
    if rule == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if rule is None or current_user.role not in rule:
        abort(403)
    return None


def family_or_404(code: str) -> Family:
    """Return the family with case ``code`` if the current user may see it, else abort with 404."""
    if not vocab.is_valid_code(code):  # no such family; and PostgreSQL could not even compare a NUL
        abort(404)
    family = db.session.scalar(policy.visible_families(current_user).where(Family.code == code))
    if family is None:
        abort(404)
    g.family_id = family.id  # for the audit log, which would otherwise look it up again
    return family


def session_or_404(family: Family, number: int) -> TherapySession:
    """The session of a family the user may see (see ``family_or_404``) by its number, else abort with 404."""
    session = next((s for s in family.sessions if s.number == number), None)
    if session is None:
        abort(404)
    return session
