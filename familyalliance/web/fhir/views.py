"""The FHIR R4 API under ``/fhir/R4``: searches and reads of what a token's account may see, and the import of bundles.

An API, not pages: every call but ``metadata`` carries a personal API token (``Authorization:
Bearer ...``, ``services.apitokens``) and is answered as its account, never as a browser session;
so the views are public to the page guard (``access.public``: the token is the key), exempt from
the CSRF check (no cookie is read), and answer every error as a FHIR ``OperationOutcome``. What a
token reads is its account's scope (``services.fhir.api_scope``: the families of the pages and the
exports, a researcher's pseudonymised). Every call is in the audit log (``fhir.read``,
``fhir.import``, ``fhir.refused``) with its status; calls are limited per token (``API_RATE_LIMIT``)
and refused tokens per address (``API_REFUSED_RATE_LIMIT``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from familyalliance import config
from familyalliance.core import exports, fhir
from familyalliance.services import apitokens
from familyalliance.services import fhir as fhir_api
from familyalliance.store.db import begin_write, db
from familyalliance.store.models import ApiToken, Family, utcnow
from familyalliance.web import access, audit
from familyalliance.web.extensions import csrf, limiter

bp = Blueprint("fhir", __name__, url_prefix="/fhir/R4")
csrf.exempt(bp)

MEDIA_TYPE = "application/fhir+json"
#: The resource types the API searches and reads, as a URL rule's converter.
TYPES = f"any({', '.join(fhir.SEARCH_PARAMETERS)})"
#: What a token refused answers (never which of them it was: a caller learns nothing about tokens it does not hold).
REFUSED = "no valid API token: send 'Authorization: Bearer <token>' with a token in use of an active account"


class ApiError(Exception):
    """An error answered as an OperationOutcome with ``status``."""

    def __init__(self, status: int, text: str, outcome: dict | None = None):
        super().__init__(text)
        self.status = status
        self.outcome = outcome or fhir.status_outcome(status, text)


def _answer(resource: dict, status: int = 200) -> Response:
    return current_app.response_class(fhir.dumps(resource), status=status, mimetype=MEDIA_TYPE)


@bp.errorhandler(ApiError)
def _api_error(error: ApiError) -> Response:
    response = _answer(error.outcome, error.status)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="familyalliance FHIR API"'
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    """Werkzeug's and Flask-Limiter's errors (405, 413, 429, ...) as OperationOutcomes, with their headers."""
    texts = {
        404: "no such resource, or not one this token's account may read",
        413: f"the body is larger than this endpoint accepts ({current_app.config['API_MAX_CONTENT_LENGTH']} bytes)",
        429: "too many calls; wait a while before you try again",
    }
    code = error.code or 500
    response = _answer(fhir.status_outcome(code, texts.get(code, error.description or error.name)), code)
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    if isinstance(error, RequestEntityTooLarge):
        response.headers["Connection"] = "close"  # the rest of the body is not read
    return response


def _token_key() -> str:
    """The rate limit's key: the token (by its hash), else the client's address."""
    token = _bearer()
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:32] if token else "addr:" + get_remote_address()


def _refused(response: Response) -> bool:
    return response.status_code == 401


#: Every call of one token counts against one budget; refused tokens count against one per address.
_per_token = limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="fhir-api", key_func=_token_key)
_per_address = limiter.shared_limit(
    lambda: current_app.config["API_REFUSED_RATE_LIMIT"], scope="fhir-refused", deduct_when=_refused
)


def _bearer() -> str | None:
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def token_call(view: Callable) -> Callable:
    """Answer the call as the account of the bearer token (401 without a token in use of an active account)."""

    @functools.wraps(view)
    def call(*args, **kwargs):
        token, why = apitokens.authenticate(_bearer())
        if token is None:
            g.api_refused = why
            raise ApiError(401, REFUSED)
        g.api_token_id, g.api_user = token.id, token.user
        return view(*args, **kwargs)

    return call


def _base_url() -> str:
    return (current_app.config.get("PUBLIC_URL") or request.url_root).rstrip("/")


def _language() -> str:
    return request.accept_languages.best_match(current_app.config["LANGUAGES"]) or "nl"


def _scope() -> fhir_api.Scope:
    pseudonymiser = exports.Pseudonymiser(config.pseudonym_key(current_app), "shift")
    return fhir_api.api_scope(g.api_user, pseudonymiser)


@bp.get("/metadata")
@access.public
@_per_token
def metadata():
    """The CapabilityStatement: what the API reads and searches (no data; open without a token)."""
    try:
        version = importlib.metadata.version("familyalliance")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return _answer(fhir.capability_statement(_base_url(), version, utcnow().date().isoformat()))


@bp.get(f"/<{TYPES}:resource_type>")
@access.public
@_per_address
@_per_token
@token_call
def search(resource_type: str):
    """A searchset page of one type in the token's scope (public to the page guard: the token is the key)."""
    parameters = list(request.args.items(multi=True))
    url = f"{_base_url()}/fhir/R4/{resource_type}" + (f"?{urlencode(parameters)}" if parameters else "")
    try:
        found, families = fhir_api.api_search(_scope(), resource_type, parameters, url, _base_url(), _language())
    except fhir.SearchError as exc:
        raise ApiError(400, str(exc)) from None
    g.api_families = families
    return _answer(found)


@bp.get(f"/<{TYPES}:resource_type>/<resource_id>")
@access.public
@_per_address
@_per_token
@token_call
def read(resource_type: str, resource_id: str):
    """One resource of the token's scope by its id; 404 alike for none and one the account may not read."""
    found, family_id = fhir_api.api_read(_scope(), resource_type, resource_id, _base_url(), _language())
    if found is None:
        raise ApiError(404, f"no {resource_type}/{resource_id}, or not one this token's account may read")
    g.api_families = [family_id] if family_id is not None else []
    return _answer(found)


@bp.post("")
@bp.post("/")
@access.public
@_per_address
@_per_token
@token_call
def import_bundle():
    """Import a Bundle of QuestionnaireResponses (transaction, batch or collection): all or nothing.

    The account must be one that may open the families (their therapists, the team lead); the body
    is at most ``API_MAX_CONTENT_LENGTH`` bytes (413 beyond). The answer is a transaction-response
    (or batch-response) Bundle, or an OperationOutcome naming each problem's entry and item.
    """
    if g.api_user.role == "researcher":
        raise ApiError(403, "a researcher's account reads pseudonymised data only; it may not import")
    request.max_content_length = current_app.config["API_MAX_CONTENT_LENGTH"]
    if request.mimetype not in (MEDIA_TYPE, "application/json"):
        raise ApiError(415, f"send the Bundle as {MEDIA_TYPE}")
    try:
        bundle = json.loads(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the body is not JSON") from None
    g.api_import = True
    try:
        done = fhir_api.import_bundle(bundle, _base_url(), user=g.api_user)
    except fhir_api.BundleRejected as exc:
        g.api_detail = {"problems": exc.total}
        issues = list(exc.issues)
        if exc.total > len(issues):
            issues.append(fhir.Issue(f"... and {exc.total - len(issues)} more", severity="information"))
        raise ApiError(422, "rejected", fhir.operation_outcome(issues)) from None
    g.api_families = done.family_ids
    g.api_detail = {"forms": done.forms, "rows": done.summary.rows}
    return _answer(done.answer)


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@access.public
@_per_token
def unknown(rest: str):
    """Any other address under the API: a type or interaction it does not offer."""
    raise ApiError(404, f"this API offers no {rest!r}: see {_base_url()}/fhir/R4/metadata")


@bp.after_request
def log_call(response: Response) -> Response:
    """Every call in the audit log with its status; the token's last use noted in the same transaction."""
    token_id, user = g.get("api_token_id"), g.get("api_user")
    families = g.get("api_families") or []
    detail = {"method": request.method, "path": request.path, **(g.get("api_detail") or {})}
    if len(families) > 1:
        detail["families"] = len(families)
    if g.get("api_refused"):
        detail["refused"] = g.api_refused  # missing, unknown, revoked, inactive
        action = "fhir.refused"
    elif user is None:  # the CapabilityStatement, or an address the API does not offer
        action = "fhir.read"
    else:
        detail["token"] = token_id
        action = "fhir.import" if g.get("api_import") else "fhir.read"
    family_code = None
    if len(families) == 1:
        family_code = db.session.get(Family, families[0]).code
    begin_write()
    if token_id is not None:
        token = db.session.get(ApiToken, token_id)
        token.last_used_at = utcnow()
        user = token.user
    audit.record(
        action,
        user=user,
        family_id=families[0] if len(families) == 1 else None,
        family_code=family_code,
        status=response.status_code,
        detail=detail,
    )
    db.session.commit()
    return response
