"""Use cases, called by the web and the CLI alike: plain arguments in, database work done.

Imports ``store`` and ``core``; never ``web`` or ``cli``.
"""
