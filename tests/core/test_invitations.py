"""The invitation and reminder texts: both languages, the link and its last day, and nothing clinical."""

from __future__ import annotations

import datetime as dt
import inspect
import re
from html.parser import HTMLParser

import pytest

from familyalliance.core import invitations, vocab
from familyalliance.core.catalog import translations

URL = "https://alliantie.example/r/Xk3-abc_DEF?lang=nl&x=1"
LAST_DAY = dt.date(2027, 1, 12)
DATES = {"nl": "dinsdag 12 januari 2027", "en": "Tuesday, January 12, 2027"}


class Links(HTMLParser):
    """Every link target and the visible text of an HTML body."""

    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


def parsed(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("language", vocab.LANGUAGES)
@pytest.mark.parametrize("kind", invitations.KINDS)
def test_the_link_and_its_last_day_are_in_every_message(kind, language):
    message = invitations.compose(kind, URL, LAST_DAY, language)
    assert message.subject and "\n" not in message.subject
    assert URL in message.text.split()
    assert DATES[language] in message.text
    html = parsed(message.html)
    assert html.hrefs == [URL, URL]  # the button, and the address written out
    assert DATES[language] in "".join(html.text)
    assert f'<html lang="{language}">' in message.html


def test_the_dutch_messages_are_translated_and_say_je():
    for kind in invitations.KINDS:
        english = invitations.compose(kind, URL, LAST_DAY, "en")
        dutch = invitations.compose(kind, URL, LAST_DAY, "nl")
        assert dutch.subject != english.subject
        words = re.findall(r"\w+", dutch.text.replace(URL, "").lower())
        assert "je" in words
        assert not {"u", "uw"} & set(words)
    assert invitations.invitation(URL, LAST_DAY, "nl").subject == "Een paar korte vragen over je gesprekken"


def test_every_text_has_its_dutch_entry():
    dutch = translations("nl").gettext
    texts = [
        *invitations.SUBJECTS.values(),
        *invitations.INTROS.values(),
        invitations.GREETING,
        invitations.OPEN_LINK,
        invitations.BUTTON,
        invitations.NO_BUTTON,
        invitations.VALID_UNTIL,
        invitations.NOT_FOR_YOU,
    ]
    assert [text for text in texts if dutch(text) == text] == []


def test_the_reminder_says_it_is_one():
    assert invitations.reminder(URL, LAST_DAY, "en").subject.startswith("Reminder")
    assert invitations.invitation(URL, LAST_DAY, "en").text != invitations.reminder(URL, LAST_DAY, "en").text


def test_nothing_clinical_can_reach_a_message():
    """The texts are built from the link, the day and the language only, and name no person, code or score."""
    for builder in (invitations.invitation, invitations.reminder):
        assert list(inspect.signature(builder).parameters) == ["url", "expires", "language"]
    clinical_words = {"score", "scores", "diagnosis", "diagnose", "family", "gezin", "dossier", "case", "code"}
    clinical_words |= set(vocab.ROLES) | set(vocab.DIMENSIONS)
    for kind in invitations.KINDS:
        for language in vocab.LANGUAGES:
            message = invitations.compose(kind, URL, LAST_DAY, language)
            for body in (message.subject, message.text, "".join(parsed(message.html).text)):
                rest = body.replace(URL, "").replace(DATES[language], "")
                assert not re.search(r"\d", rest), rest  # no number but the date's: no score, no session
                assert not clinical_words & set(re.findall(r"\w+", rest.lower()))


def test_a_link_is_written_safely_into_html():
    tricky = 'https://alliantie.example/r/a"><script>alert(1)</script>'
    with pytest.raises(ValueError):  # no whitespace, but a quote: still escaped, never markup
        invitations.invitation(tricky + " x", LAST_DAY, "en")
    message = invitations.invitation(tricky, LAST_DAY, "en")
    assert "<script>" not in message.html
    assert parsed(message.html).hrefs == [tricky, tricky]


@pytest.mark.parametrize(
    ("url", "language", "kind"),
    [
        ("/r/relative-only", "nl", "invitation"),
        ("alliantie.example/r/abc", "en", "invitation"),
        (URL, "de", "invitation"),
        (URL, "nl", "survey"),
    ],
)
def test_refuses_what_would_make_a_broken_message(url, language, kind):
    with pytest.raises(ValueError):
        invitations.compose(kind, url, LAST_DAY, language)
