"""Logging in and out (Flask-Login), with a generic error that does not reveal accounts."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from .extensions import db, login_manager
from .forms import EmptyForm, LoginForm
from .models import User
from .passwords import hash_password, needs_rehash, verify_password

bp = Blueprint("auth", __name__)

_dummy_hash: str | None = None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the logged-in user from the session."""
    return db.session.get(User, int(user_id))


def _safe_next(target: str | None) -> str | None:
    """Accept only a path on this site as the place to go after logging in."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def authenticate(email: str, password: str) -> User | None:
    """Return the active user with these credentials, or None, taking the same time either way."""
    global _dummy_hash
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None:
        _dummy_hash = _dummy_hash or hash_password("not a password of anyone")
        verify_password(_dummy_hash, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
    return user


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form and log the user in."""
    if current_user.is_authenticated:
        return redirect(url_for("families.caseload"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(_safe_next(request.args.get("next")) or url_for("families.caseload"))
        error = _("Email or password is not correct.")
    return render_template("auth/login.html", form=form, error=error)


@bp.post("/logout")
@login_required
def logout():
    """Log out: a POST, so the app-wide CSRF check keeps other sites from logging a user out."""
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    """Wire Flask-Login into the app."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"

    @app.context_processor
    def logout_form() -> dict:
        # formdata=None: the log-out button only needs a CSRF token, and must not read the request
        # body (an error page for a too-large upload would otherwise fail again while rendering).
        return {"logout_form": EmptyForm(formdata=None)}
