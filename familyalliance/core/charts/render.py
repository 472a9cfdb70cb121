"""Vega, Vega-Lite and Vega-Embed through vl-convert: the browser bundle and server-side SVG.

Nothing is loaded from a CDN. The JavaScript bundle is produced by vl-convert (which carries
the libraries), written once into a cache folder; ``web.assets`` serves it at a versioned URL.
Server-side SVG (the session report's charts, also inside its PDF) comes from the same vl-convert, with the Dutch
number and date locale when the page is Dutch.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import vl_convert

#: The Vega-Lite version of the bundle and of server-side rendering: the one Altair writes specs for.
VL_VERSION = "6.4"


#: d3 locales per interface language (English uses d3's default, en-US).
LOCALES = {"nl": "nl-NL"}


def version() -> str:
    """The bundle's version: vl-convert's, which fixes the Vega, Vega-Lite and Vega-Embed inside it."""
    return f"{vl_convert.__version__}-vl{VL_VERSION}"


def bundle_path(cache_dir: str | os.PathLike) -> Path:
    """The bundle file, written on first use (atomically, so concurrent workers never serve half a file)."""
    path = Path(cache_dir) / f"vega-{version()}.js"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        text = vl_convert.javascript_bundle(vl_version=VL_VERSION)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as f:
            f.write(text)
        os.replace(f.name, path)
    return path


def embed_locale(language: str) -> dict:
    """The number and date locale for Vega-Embed's options (empty: d3's default, English)."""
    name = LOCALES.get(language)
    if name is None:
        return {}
    return {
        "formatLocale": vl_convert.get_format_locale(name),
        "timeFormatLocale": vl_convert.get_time_format_locale(name),
    }


def _locale_args(language: str) -> dict:
    name = LOCALES.get(language)
    return {"format_locale": name, "time_format_locale": name} if name else {}


def to_svg(spec: dict, language: str) -> str:
    """Render a Vega-Lite spec to SVG on the server."""
    return vl_convert.vegalite_to_svg(spec, vl_version=VL_VERSION, **_locale_args(language))
