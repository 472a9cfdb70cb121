"""The web's Flask extensions, created unbound here and bound to the app in ``web.create_app``."""

import logging

from flask.logging import default_handler
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Rate limits per client address (the login form, unknown member links); storage: RATELIMIT_STORAGE_URI, which
#: is the shared Redis when REDIS_URL is set (``config.share_through_redis``): a limit holds across workers and hosts.
limiter = Limiter(get_remote_address)
# Flask-Limiter warns on its own logger when its storage (Redis) stops answering; with only its NullHandler that
# goes nowhere under gunicorn. Send it where the app's warnings go (stderr: gunicorn's error log).
logging.getLogger("flask-limiter").addHandler(default_handler)
