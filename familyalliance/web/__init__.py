"""The web app: the factory, and everything that runs on a request, registered in one ordered place.

Reading this module tells what runs on a request, and in which order:

1. before the view: ``BEFORE_REQUEST`` in order (language choice, session expiry, the access
   guard, the tablet round's lock);
2. the view, from one of ``BLUEPRINTS``;
3. after the view: ``AFTER_REQUEST`` in the order listed (Flask calls after-request functions
   in reverse registration order; the list is registered reversed so it reads as it runs);
4. templates get ``CONTEXT_PROCESSORS`` and ``TEMPLATE_GLOBALS``.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from familyalliance import config, resources
from familyalliance.services import refresher, requests
from familyalliance.store.db import db
from familyalliance.web import access, assets, audit, errors, health, i18n, security
from familyalliance.web.admin.views import bp as admin_bp
from familyalliance.web.auth import views as auth
from familyalliance.web.caseload.views import bp as caseload_bp
from familyalliance.web.caseload.views import index
from familyalliance.web.data.views import bp as data_bp
from familyalliance.web.extensions import csrf, limiter, migrate
from familyalliance.web.families import views as families_views
from familyalliance.web.families.views import bp as families_bp
from familyalliance.web.fhir.views import bp as fhir_bp
from familyalliance.web.questionnaire.views import bp as questionnaire_bp
from familyalliance.web.ratings import rounds
from familyalliance.web.ratings.views import bp as ratings_bp
from familyalliance.web.supervision.views import bp as supervision_bp

BLUEPRINTS = (
    health.bp,
    auth.bp,
    caseload_bp,
    families_bp,
    ratings_bp,
    questionnaire_bp,
    supervision_bp,
    data_bp,
    admin_bp,
    fhir_bp,
    assets.bp,
)
BEFORE_REQUEST = (
    i18n.remember_language_choice,
    auth.expire_session,  # ends an expired session before the guard looks at the user
    access.guard,
    rounds.keep_in_round,
)
AFTER_REQUEST = (
    audit.log_family_request,  # records the answer's status
    security.add_headers,
)
CONTEXT_PROCESSORS = (i18n.template_globals, i18n.labels, auth.logout_form)
TEMPLATE_GLOBALS = {"may": access.may, "vega_bundle_url": assets.bundle_url, "link_last_day": requests.link_last_day}


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application."""
    app = Flask(
        "familyalliance",
        instance_path=resources.instance_path(),
        instance_relative_config=True,
        template_folder=str(resources.folder("templates")),
        static_folder=str(resources.folder("static")),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    config.configure(app, test_config)

    if app.config["PROXY_FIX_X_FOR"]:
        hops = app.config["PROXY_FIX_X_FOR"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(resources.folder("migrations")), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    auth.init_login(app)
    security.init_logging()
    errors.init_app(app)
    # After a request's commit changed a few families: their summaries, then their dashboards, made ready.
    refresher.init_app(app, (refresher.refresh_summaries, families_views.warm_dashboards))

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    app.add_url_rule("/", endpoint="index", view_func=index)
    for hook in BEFORE_REQUEST:
        app.before_request(hook)
    for hook in reversed(AFTER_REQUEST):
        app.after_request(hook)
    for processor in CONTEXT_PROCESSORS:
        app.context_processor(processor)
    for name, function in TEMPLATE_GLOBALS.items():
        app.add_template_global(function, name)
    return app
