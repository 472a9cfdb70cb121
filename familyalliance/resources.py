"""Where the app's files are: templates, static files and migrations, in a checkout or an installed wheel.

In the repository they sit at the top level (``templates/``, ``static/``, ``migrations/``), beside
the package; a built wheel carries them inside the package (``pyproject.toml`` maps them in), so an
installed app serves every page from any folder. The instance folder is ``instance/`` of the
checkout, or ``FAMILYALLIANCE_INSTANCE_PATH``, or Flask's default for an installed package.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def folder(name: str) -> Path:
    """``templates``, ``static`` or ``migrations``: inside the installed package, else the checkout's."""
    inside = PACKAGE / name
    return inside if inside.is_dir() else CHECKOUT / name


def instance_path() -> str | None:
    """The instance folder: the environment's choice, the checkout's ``instance/``, or None (Flask's default)."""
    chosen = os.environ.get("FAMILYALLIANCE_INSTANCE_PATH")
    if chosen:
        return str(Path(chosen).resolve())
    if (CHECKOUT / "pyproject.toml").is_file() and not (PACKAGE / "templates").is_dir():
        return str(CHECKOUT / "instance")
    return None
