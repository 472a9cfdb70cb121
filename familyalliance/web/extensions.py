"""The web's Flask extensions, created unbound here and bound to the app in ``web.create_app``."""

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
#: Rate limits per client address (the login form, unknown member links); storage: RATELIMIT_STORAGE_URI.
limiter = Limiter(get_remote_address)
