"""Flask extensions, created unbound here and bound to the app in the factory."""

import sqlalchemy as sa
from flask import g
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase

# Named constraints so that migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
#: Rate limits per client address (the login form, unknown member links); storage: RATELIMIT_STORAGE_URI.
limiter = Limiter(get_remote_address)


def begin_write() -> None:
    """End the session's transaction; the next one in this request is a writing one.

    On SQLite it then takes the write lock when it begins (BEGIN IMMEDIATE, see
    ``familyalliance._sqlite_begin``), so a read followed by a write cannot fail on a
    snapshot another request made stale; elsewhere this only ends the transaction.
    """
    db.session.rollback()
    g.write_transaction = True
