"""The words of the e-mail that brings a family member their questionnaire link, and of its reminder.

Pure: no Flask. :func:`invitation` and :func:`reminder` word the subject, the plain text and
the HTML of a message in Dutch or English from the app's own message catalog, given only the
link, the day it stops working and the language. On purpose they are given nothing else:
a message may be read by anyone who sees the mailbox, so it holds no case code, no name, no
therapist, no diagnosis and no score; only that the therapist asks for a few short answers
about how the sessions go, the link, until when it works, and that a stranger may ignore it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from html import escape

from babel.dates import format_date

from familyalliance.core import vocab
from familyalliance.core.catalog import N_, translations

#: The two messages: the first invitation, and the reminder for a questionnaire not answered yet.
KINDS = ("invitation", "reminder")

SUBJECTS = {
    "invitation": N_("A few short questions about your sessions"),
    "reminder": N_("Reminder: a few short questions about your sessions"),
}
INTROS = {
    "invitation": N_(
        "Your therapist would like to know how the sessions are going for you. Will you answer a few short "
        "questions? It takes only a minute or two."
    ),
    "reminder": N_(
        "Your therapist asked you to answer a few short questions about how the sessions are going for you. "
        "Have you not found the time yet? You can still do it now. It takes only a minute or two."
    ),
}
GREETING = N_("Hello,")
OPEN_LINK = N_("Open this link to start:")
BUTTON = N_("Answer the questions")
NO_BUTTON = N_("Does the button not work? Copy this link into your browser:")
VALID_UNTIL = N_("The link works until %(date)s.")
NOT_FOR_YOU = N_("Was this message not meant for you? Then you can ignore it.")


@dataclass(frozen=True)
class MessageText:
    """A message ready to send: its subject, its plain text and the same in HTML."""

    subject: str
    text: str
    html: str


def invitation(url: str, expires: dt.date, language: str) -> MessageText:
    """The message that brings a member the link to their questionnaire."""
    return compose("invitation", url, expires, language)


def reminder(url: str, expires: dt.date, language: str) -> MessageText:
    """The message that reminds a member of a questionnaire not answered yet."""
    return compose("reminder", url, expires, language)


def compose(kind: str, url: str, expires: dt.date, language: str) -> MessageText:
    """Word a message of ``kind`` (one of KINDS) with ``url``, working until ``expires``, in ``language``.

    ``expires`` is the last day the link works, in the clinic's time zone (the caller's to convert).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of message {kind!r}; choose one of {', '.join(KINDS)}")
    if language not in vocab.LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(vocab.LANGUAGES)}")
    # A relative or broken link would reach the family as a dead end; only a whole web address will do.
    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise ValueError(f"not a complete web address: {url!r}")
    gettext = translations(language).gettext
    subject = gettext(SUBJECTS[kind])
    intro = gettext(INTROS[kind])
    until = gettext(VALID_UNTIL) % {"date": format_date(expires, format="full", locale=language)}
    text = "\n\n".join([gettext(GREETING), intro, f"{gettext(OPEN_LINK)}\n{url}", until, gettext(NOT_FOR_YOU)])
    href = escape(url, quote=True)
    html = _HTML.format(
        language=language,
        subject=escape(subject),
        greeting=escape(gettext(GREETING)),
        intro=escape(intro),
        href=href,
        button=escape(gettext(BUTTON)),
        no_button=escape(gettext(NO_BUTTON)),
        until=escape(until),
        not_for_you=escape(gettext(NOT_FOR_YOU)),
    )
    return MessageText(subject, text + "\n", html)


# Inline styles only: most mail programs drop style sheets. The address is shown in full as well,
# for mail programs that do not show the button.
_HTML = """\
<!DOCTYPE html>
<html lang="{language}">
<head><meta charset="utf-8"><title>{subject}</title></head>
<body style="margin:0;padding:16px;font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a">
<p>{greeting}</p>
<p>{intro}</p>
<p><a href="{href}" style="display:inline-block;padding:12px 20px;background:#1d5c8f;color:#ffffff;\
text-decoration:none;border-radius:6px;font-weight:bold">{button}</a></p>
<p>{no_button}<br><a href="{href}" style="color:#1d5c8f;word-break:break-all">{href}</a></p>
<p>{until}</p>
<p style="color:#555555">{not_for_you}</p>
</body>
</html>
"""
