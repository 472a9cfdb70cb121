"""gunicorn settings for familyalliance (docs/operations.md): ``gunicorn -c gunicorn.conf.py 'familyalliance:create_app()'``.

Values can be overridden on the command line (``-w 8 -b 0.0.0.0:8000``) or with
``GUNICORN_CMD_ARGS``. The access log names every request's path; member links carry
their token in the path, so the log gets the token replaced (``security.redact``): a log
line must never open a member's questionnaire.
"""

import os

from gunicorn.glogging import Logger

from familyalliance.web.security import redact

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Requests are short; a stuck worker is replaced after this long.
timeout = 60
accesslog = "-"


class RedactingLogger(Logger):
    """gunicorn's logger with member-link tokens taken out of every field that holds the path."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in atoms.items():
            if isinstance(value, str) and "/r/" in value:
                atoms[key] = redact(value)
        return atoms


logger_class = RedactingLogger
