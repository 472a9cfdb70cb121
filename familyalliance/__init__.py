"""familyalliance: the working alliance in family treatment, member by member.

The package is layered (``docs/architecture.md``): ``core`` (pure logic), ``store`` (the
database), ``services`` (use cases), ``web`` and ``cli``. ``create_app`` is the web app's
factory; it is imported lazily so that ``familyalliance.core`` loads without Flask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application: the web app (``web.create_app``) with its commands (``cli``)."""
    from familyalliance import cli
    from familyalliance.web import create_app as web_app

    app = web_app(test_config)
    cli.init_app(app)
    return app


__all__ = ["create_app"]
