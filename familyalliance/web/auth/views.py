"""Logging in and out, changing one's password, and sessions that end.

- One generic message for every failed login (unknown account, wrong password, locked or
  deactivated account), given in the same time, so a login form reveals nothing.
- After ``LOGIN_MAX_FAILURES`` wrong passwords in a row an account locks for
  ``LOGIN_LOCKOUT_MINUTES``; the count lives in the database, so every worker agrees.
- Logins per client address are limited (``LOGIN_RATE_LIMIT``, Flask-Limiter; 429 beyond).
- A session ends after ``SESSION_IDLE_MINUTES`` without a request and after
  ``PERMANENT_SESSION_LIFETIME`` in any case. The session holds the account's session
  token (``User.get_id``): changing the password issues a new token, which ends every
  other session of the account.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from familyalliance.core.passwords import new_session_token
from familyalliance.services import accounts
from familyalliance.services.accounts import hash_password, verify_password
from familyalliance.store.db import db
from familyalliance.store.models import User
from familyalliance.web import access, audit
from familyalliance.web.auth.forms import LoginForm, PasswordForm
from familyalliance.web.extensions import limiter, login_manager
from familyalliance.web.forms import EmptyForm

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """The logged-in account, if the session's token is still the account's (see ``User.get_id``)."""
    number, _sep, token = user_id.partition(":")
    if not number.isdigit():
        return None
    user = db.session.get(User, int(number))
    return user if user is not None and user.session_token == token else None


def _safe_next(target: str | None) -> str | None:
    """Accept only a path on this site as the place to go after logging in."""
    if not target:
        return None
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. "//[": not a URL at all
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def start_session(user: User) -> None:
    """Log ``user`` in with a fresh session that expires (the language choice is kept)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    login_user(user)
    session.permanent = True
    session["since"] = session["seen"] = time.time()


#: The audit action of each way a login fails (the typed email is not kept: it may be a password).
LOGIN_FAILURES = {
    "unknown": "login.failed",
    "wrong": "login.failed",
    "inactive": "login.inactive",
    "locked": "login.locked",
    "locked_now": "login.lockout",
}


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@access.public
@limiter.limit(_login_limit, methods=["POST"], deduct_when=lambda response: response.status_code == 401)
def login():
    """Show the login form and log the user in; every failure gets the same message."""
    if current_user.is_authenticated:
        return redirect(url_for(access.home(current_user)))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        account, outcome = accounts.authenticate(form.email.data, form.password.data)
        if outcome == "ok":
            start_session(account)
            audit.record_now("login")
            return redirect(_safe_next(request.args.get("next")) or url_for(access.home(account)))
        audit.record_now(LOGIN_FAILURES[outcome], user=account)
        error = _(
            "Email or password is not correct, or the account is locked for a while after too many "
            "attempts. Try again later, or ask your administrator."
        )
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


@bp.post("/logout")
@access.roles(*access.ANY_ROLE)
def logout():
    """Log out: a POST, so the app-wide CSRF check keeps other sites from logging a user out."""
    audit.record_now("logout")
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@access.roles(*access.ANY_ROLE)
def change_password():
    """Change one's own password (the current one first); every other session of the account ends."""
    # The account itself, not the proxy: login_user keeps what it is given as the current user, and
    # a current_user that stands for itself recurses without end.
    user = current_user._get_current_object()
    form = PasswordForm(email=user.email)
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.current.data):
            form.current.errors.append(_("This is not your current password."))
            audit.record_now("password.change_refused")
        else:
            user.password_hash = hash_password(form.new.data)
            user.session_token = new_session_token()
            audit.record("password.changed")
            db.session.commit()
            start_session(user)
            flash(_("Your password was changed. Other sessions of your account have ended."), "success")
            return redirect(url_for(access.home(user)))
    return render_template("auth/password.html", form=form), (422 if form.errors else 200)


def expire_session():
    """Before every request: end a session that was idle too long or is older than its lifetime."""
    if not current_user.is_authenticated or request.endpoint == "static":
        return None
    now = time.time()
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    seen, since = session.get("seen"), session.get("since")
    if seen is None or since is None or now - seen > idle or now - since > lifetime:
        logout_user()
        session.clear()
        flash(_("Your session has ended. Please log in again."), "info")
        return None  # the access guard sends the user to the login page where one is needed
    session["seen"] = now
    return None


def logout_form() -> dict:
    """The log-out button's form, for every page.

    formdata=None: the button only needs a CSRF token, and must not read the request body
    (an error page for a too-large upload would otherwise fail again while rendering).
    """
    return {"logout_form": EmptyForm(formdata=None)}


def init_login(app: Flask) -> None:
    """Wire Flask-Login into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # A session cookie used from another browser (address and user agent) is emptied.
    login_manager.session_protection = "strong"
