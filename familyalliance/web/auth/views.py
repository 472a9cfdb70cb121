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
- An account with a second factor is not logged in by its password alone: the session keeps
  "password right for account N" for ``PENDING_SECONDS``, and ``/login/code`` asks for the
  app's code or a recovery code. A wrong code counts towards the lockout as a wrong password,
  and the code form shares the login rate limit. An account whose role requires a second factor
  (``TWO_FACTOR_ROLES``) and has none sets it up at ``/login/setup`` before it is logged in.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user

from familyalliance.core.passwords import new_session_token
from familyalliance.services import accounts, apitokens, twofactor
from familyalliance.services.accounts import hash_password, verify_password
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import User
from familyalliance.web import access, audit
from familyalliance.web.auth.forms import (
    ApiTokenForm,
    CodeForm,
    LoginForm,
    PasswordForm,
    RecoveryCodeForm,
    RenewCodesForm,
    SetupForm,
)
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


def _refused(response) -> bool:
    return response.status_code == 401


#: The password form and the second factor's forms count their failures against one limit per address.
login_limit = limiter.shared_limit(_login_limit, scope="login", methods=["POST"], deduct_when=_refused)


def _login_failed_message() -> str:
    return _(
        "Email or password is not correct, or the account is locked for a while after too many "
        "attempts. Try again later, or ask your administrator."
    )


@bp.route("/login", methods=["GET", "POST"])
@access.public
@login_limit
def login():
    """Show the login form and log the user in (or ask for the second factor); every failure gets the same message."""
    if current_user.is_authenticated:
        return redirect(url_for(access.home(current_user)))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        account, outcome = accounts.authenticate(form.email.data, form.password.data)
        if outcome == "ok":
            next_url = _safe_next(request.args.get("next"))
            if account.two_factor_on:
                _begin_pending(account, next_url)
                return redirect(url_for("auth.login_code"))
            if twofactor.required(account):
                _begin_pending(account, next_url)
                return redirect(url_for("auth.two_factor_setup"))
            start_session(account)
            audit.record_now("login")
            return redirect(next_url or url_for(access.home(account)))
        audit.record_now(LOGIN_FAILURES[outcome], user=account)
        error = _login_failed_message()
    return render_template("auth/login.html", form=form, error=error), (401 if error else 200)


#: Seconds between the right password and the second factor's code (or its setup) before the password is asked again.
PENDING_SECONDS = 5 * 60


def _begin_pending(user: User, next_url: str | None) -> None:
    """Remember in a fresh session that ``user`` gave the right password just now (not logged in yet)."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session["pending"] = {"user": user.id, "token": user.session_token, "at": time.time(), "next": next_url}


def _pending_user() -> User | None:
    """The account whose password was right a moment ago in this browser, if it may still go on."""
    pending = session.get("pending")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("user"))
    if user is None or user.session_token != pending.get("token") or not user.active:
        return None
    return user


def _finish_login(user: User, action: str, **detail) -> None:
    """Log ``user`` in after the second factor (the caller has committed its work) and record how."""
    next_url = session.get("pending", {}).get("next")
    start_session(user)
    audit.record_now(action, detail=detail or None)
    session["after_login"] = next_url


def _after_login(user: User):
    return redirect(_safe_next(session.pop("after_login", None)) or url_for(access.home(user)))


def _back_to_login():
    session.pop("pending", None)
    flash(_("Please log in again."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/login/code", methods=["GET", "POST"])
@access.public
@login_limit
def login_code():
    """The login's second step: the app's code, or a recovery code.

    Public on purpose: the password given a moment ago in this browser (the session's ``pending``) is the key.
    A wrong or reused code counts as a failed login (lockout and rate limit); a code is accepted once.
    """
    if current_user.is_authenticated:
        return redirect(url_for(access.home(current_user)))
    user = _pending_user()
    if user is None or not user.two_factor_on:
        return _back_to_login()
    with_recovery = "recovery_code" in request.form
    form = CodeForm(formdata=None) if with_recovery else CodeForm()
    recovery = RecoveryCodeForm() if with_recovery else RecoveryCodeForm(formdata=None)
    sent = recovery if with_recovery else form
    error = None
    if sent.validate_on_submit():
        begin_write()  # the step or the recovery code is taken in a writing transaction
        user = db.session.get(User, user.id)
        if user.locked():
            outcome = "locked"
        elif with_recovery:
            outcome = "recovery" if twofactor.use_recovery_code(user, recovery.recovery_code.data) else "wrong"
        else:
            outcome = twofactor.check_code(user, form.code.data)
        if outcome in ("ok", "recovery"):
            user.failed_logins = 0
            user.locked_until = None
            db.session.commit()
            if outcome == "recovery":
                _finish_login(user, "login.recovery_code", recovery_codes_left=twofactor.recovery_codes_left(user))
            else:
                _finish_login(user, "login.two_factor")
            if outcome == "recovery":
                flash(
                    _(
                        "You logged in with a recovery code; it will not work again. %(n)s are left: "
                        "make new ones at Two-factor sign-in when few are left.",
                        n=twofactor.recovery_codes_left(user),
                    ),
                    "info",
                )
            return _after_login(user)
        db.session.rollback()
        if outcome != "locked":
            outcome = accounts.count_failure(user) if outcome == "wrong" else _count_reused(user)
        if outcome in ("locked", "locked_now"):
            session.pop("pending", None)
            audit.record_now(LOGIN_FAILURES[outcome], user=user, detail={"step": "second factor"})
            error = _login_failed_message()
        else:
            audit.record_now(
                "login.two_factor_failed",
                user=user,
                detail={"reason": "reused" if outcome == "reused" else "wrong", "recovery_code": with_recovery},
            )
            error = _("The code is not correct, or it was used already. Wait for the next code and try again.")
    status = 401 if error else (422 if sent.errors else 200)
    return render_template("auth/login_code.html", form=form, recovery=recovery, error=error), status


def _count_reused(user: User) -> str:
    """A code used before counts as a wrong one (``reused`` when it did not lock the account)."""
    outcome = accounts.count_failure(user)
    return "reused" if outcome == "wrong" else outcome


@bp.route("/login/setup", methods=["GET", "POST"])
@access.public
@login_limit
def two_factor_setup():
    """Set up the second factor that the account's role requires, before the account is logged in.

    Public on purpose: the password given a moment ago in this browser is the key. Shows the QR code
    and the secret as text, confirms the app's first code, then shows the ten recovery codes once.
    """
    if current_user.is_authenticated:
        return redirect(url_for(access.home(current_user)))
    user = _pending_user()
    if user is None or user.two_factor_on:
        return _back_to_login()
    form = SetupForm()
    error = None
    if form.validate_on_submit():
        begin_write()
        user = db.session.get(User, user.id)
        codes = None if user.locked() else twofactor.confirm_setup(user, form.code.data)
        if codes is not None:
            audit.record("two_factor.setup", user=user)
            db.session.commit()
            _finish_login(user, "login.two_factor", setup=True)
            return _recovery_codes_page(codes, user)
        db.session.rollback()
        outcome = "locked" if user.locked() else accounts.count_failure(user)
        if outcome in ("locked", "locked_now"):
            session.pop("pending", None)
            audit.record_now(LOGIN_FAILURES[outcome], user=user, detail={"step": "second factor setup"})
            error = _login_failed_message()
        else:
            audit.record_now("login.two_factor_failed", user=user, detail={"reason": "wrong", "setup": True})
            error = _("The code is not correct. Type the code your app shows now (it changes every 30 seconds).")
    setup = _setup_view(user)
    status = 401 if error else (422 if form.errors else 200)
    return render_template("auth/two_factor_setup.html", form=form, error=error, setup=setup, at_login=True), status


def _setup_view(user: User) -> dict:
    """What the setup page shows: the QR code and the secret as text (until the first code confirms it)."""
    if not user.totp_secret:
        begin_write()
        user = db.session.get(User, user.id)
        twofactor.pending_secret(user)
        db.session.commit()
    secret = user.totp_secret
    uri = twofactor.provisioning_uri(user, secret)
    return {"qr": twofactor.qr_svg(uri), "secret": twofactor.grouped(secret), "email": user.email}


def _recovery_codes_page(codes: list[str], user: User):
    """The ten recovery codes, shown this once."""
    return render_template("auth/recovery_codes.html", codes=codes, next_url=_continue_url(user))


def _continue_url(user: User) -> str:
    return _safe_next(session.get("after_login")) or url_for(access.home(user))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@access.roles(*access.ANY_ROLE)
def two_factor():
    """One's own second factor: set it up, see that it is on, or make new recovery codes (the old ones stop working)."""
    user = current_user._get_current_object()
    if not user.two_factor_on:
        form = SetupForm()
        if form.validate_on_submit():
            begin_write()
            user = db.session.get(User, user.id)
            codes = twofactor.confirm_setup(user, form.code.data)
            if codes is not None:
                audit.record("two_factor.setup")
                db.session.commit()
                return _recovery_codes_page(codes, user)
            db.session.rollback()
            form.code.errors.append(_("The code is not correct. Type the code your app shows now."))
        setup = _setup_view(user)
        return render_template(
            "auth/two_factor_setup.html",
            form=form,
            error=None,
            setup=setup,
            at_login=False,
            required=twofactor.required(user),
        ), (422 if form.errors else 200)
    form = RenewCodesForm()
    if form.validate_on_submit():
        if not verify_password(user.password_hash, form.password.data):
            form.password.errors.append(_("This is not your current password."))
            audit.record_now("two_factor.recovery_codes_refused")
        else:
            codes = twofactor.new_recovery_codes(user)
            audit.record("two_factor.recovery_codes")
            db.session.commit()
            return _recovery_codes_page(codes, user)
    return render_template(
        "auth/two_factor.html",
        form=form,
        user=user,
        left=twofactor.recovery_codes_left(user),
        required=twofactor.required(user),
    ), (422 if form.errors else 200)


@bp.post("/logout")
@access.roles(*access.ANY_ROLE)
def logout():
    """Log out: a POST, so the app-wide CSRF check keeps other sites from logging a user out."""
    audit.record_now("logout")
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/api-tokens", methods=["GET", "POST"])
@access.roles(*access.ANY_ROLE)
def api_tokens():
    """One's own API tokens for the FHIR API: make one (shown this once), see them, revoke them."""
    user = current_user._get_current_object()
    form = ApiTokenForm()
    made = None
    if form.validate_on_submit():
        begin_write()
        user = db.session.get(User, user.id)
        token, made = apitokens.create(user, form.name.data)
        audit.record("api_token.created", detail={"token": token.id})
        db.session.commit()
        form = ApiTokenForm(formdata=None)
    return render_template(
        "auth/api_tokens.html",
        api_url=(current_app.config.get("PUBLIC_URL") or request.url_root).rstrip("/") + "/fhir/R4",
        form=form,
        made=made,
        tokens=apitokens.tokens_of(user),
        revoke_form=EmptyForm(),
    ), (422 if form.errors else 200)


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@access.roles(*access.ANY_ROLE)
def revoke_api_token(token_id: int):
    """Revoke one of one's own API tokens: calls with it are refused from now on."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    begin_write()
    user = db.session.get(User, current_user.id)
    token = apitokens.revoke(user, token_id)
    if token is None:
        db.session.rollback()
        abort(404)
    audit.record("api_token.revoked", detail={"token": token.id})
    db.session.commit()
    flash(_("The token %(name)s is revoked: calls with it are refused from now on.", name=token.name), "success")
    return redirect(url_for("auth.api_tokens"))


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
    """Wire Flask-Login into the app (and refuse to start with a role in TWO_FACTOR_ROLES that does not exist)."""
    twofactor.configured_roles(app.config["TWO_FACTOR_ROLES"])
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    # A session cookie used from another browser (address and user agent) is emptied.
    login_manager.session_protection = "strong"
