"""The SPSS export opens in GNU PSPP (a program of its own, run as a process)."""

from __future__ import annotations

import subprocess

import pytest

from ..services.test_export import export, load_demo


@pytest.fixture
def demo(app, runner):
    load_demo(runner)


def test_sav_opens_in_pspp(runner, tmp_path, demo):
    """GNU PSPP reads the file, its labels and its numbers."""
    path = export(runner, tmp_path, "scores", "sav")
    syntax = tmp_path / "read.sps"
    syntax.write_text(
        f"GET FILE='{path}'.\nFREQUENCIES VARIABLES=role informant.\nDESCRIPTIVES VARIABLES=total_pomp.\n"
    )
    out = subprocess.run(["pspp", "-O", "format=txt", str(syntax)], capture_output=True, text=True, check=True).stdout
    assert "Youth (adolescent)" in out and "The therapist" in out
    assert "total_pomp" in out or "Total score, POMP" in out
    assert "error" not in out.lower()
