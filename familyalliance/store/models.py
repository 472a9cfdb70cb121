"""The data model: teams, accounts, families, members, sessions and the response store.

The response store keeps one row per item answer, keyed exactly as the long CSV of
``metrics.md`` section 3: (family, member, session, informant, target, instrument, item).
Composite foreign keys make it impossible for a response, or an attendance record, to
pair a member of one family with a session of another.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from familyalliance.core import vocab
from familyalliance.store.db import db


def utcnow() -> dt.datetime:
    """Return the current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    """A portable enumerated string column, checked by the database on every engine."""
    return sa.Enum(
        *values,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(v) for v in values),
    )


family_therapist = sa.Table(
    "family_therapist",
    db.metadata,
    sa.Column("family_id", sa.ForeignKey("family.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Index("ix_family_therapist_user_id", "user_id"),
)


class Team(db.Model):
    """A treatment team: the unit a team lead oversees."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Shown in the interface and used by ``create-user --team``.
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    #: Raised whenever a family of the team changes (``summaries.touch``) and whenever the team gains or loses a
    #: family (``summaries.raise_teams``): a team lead's caseload version reads it instead of every family.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")

    users: Mapped[list[User]] = relationship(back_populates="team")
    families: Mapped[list[Family]] = relationship(back_populates="team")

    def __repr__(self) -> str:
        return f"<Team {self.name}>"


class User(UserMixin, db.Model):
    """An account of a therapist, team lead, researcher or administrator."""

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Login name, stored lower-cased.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    #: Argon2id hash in PHC string format.
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    #: One of ``vocab.USER_ROLES``.
    role: Mapped[str] = mapped_column(_enum(vocab.USER_ROLES, "user_role"))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("team.id", ondelete="SET NULL"), index=True)
    #: The interface language the user chose (``nl`` or ``en``); empty means "follow the browser".
    locale: Mapped[str | None] = mapped_column(sa.String(8))
    #: Deactivated accounts cannot log in but keep their history.
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: Failed logins since the last successful one; at ``LOGIN_MAX_FAILURES`` the account locks.
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    #: While in the future, the account cannot log in (not even with the right password).
    locked_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Part of the id kept in the browser session; a new one (password change) ends every other session.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=lambda: secrets.token_hex(16))
    #: The second factor's TOTP secret (base32): made when setting it up, in use once ``two_factor_since`` is set.
    #: The app needs it to check codes; no page shows it after the setup.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    #: When the second factor was set up (empty: not set up); an admin's reset empties it with the secret.
    two_factor_since: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The time step of the last code accepted: a code counts only for a later step, so none is used twice.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Raised whenever a family assigned to the account changes (``summaries.touch``), is assigned to it or taken
    #: from it: the caseload version reads it (and a team lead's team's revision) instead of every family.
    assigned_revision: Mapped[int] = mapped_column(default=0, server_default="0")

    team: Mapped[Team | None] = relationship(back_populates="users")
    families: Mapped[list[Family]] = relationship(secondary=family_therapist, back_populates="therapists")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users.
        return self.active

    def locked(self, now: dt.datetime | None = None) -> bool:
        """Whether the account is locked after too many failed logins (``locked_until`` still ahead)."""
        until = self.locked_until
        if until is None:
            return False
        until = until if until.tzinfo else until.replace(tzinfo=dt.UTC)  # SQLite gives it back naive
        return until > (now or utcnow())

    @property
    def two_factor_on(self) -> bool:
        """Whether logging in takes a code of the second factor besides the password."""
        return self.two_factor_since is not None and self.totp_secret is not None

    def get_id(self) -> str:
        """The session's reference to the account: id and session token (see ``auth.load_user``)."""
        return f"{self.id}:{self.session_token}"

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class RecoveryCode(db.Model):
    """A single-use code that stands in for the second factor (a lost phone): only its SHA-256 is kept."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: SHA-256 (hex) of the code: 60 random bits, so a plain hash suffices (no guessable password behind it).
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    #: When it was used to log in (empty: still usable).
    used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<RecoveryCode of user {self.user_id}>"


class Family(db.Model):
    """A family in treatment, known by its case code only (no family name is stored)."""

    __table_args__ = (
        # The families whose stored summary is stale (or missing): few, found without reading the others.
        sa.Index(
            "ix_family_summary_due",
            "id",
            sqlite_where=sa.text("summary_due = 1"),  # as SQLAlchemy writes the condition on SQLite
            postgresql_where=sa.text("summary_due"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The case code: 1..64 letters, digits, ``-``, ``_`` or ``.``; used in URLs and exports.
    code: Mapped[str] = mapped_column(sa.String(vocab.CODE_MAX_LENGTH), unique=True)
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("team.id", ondelete="SET NULL"), index=True)
    #: One of ``vocab.FAMILY_STATUSES``.
    status: Mapped[str] = mapped_column(_enum(vocab.FAMILY_STATUSES, "family_status"), default="active")
    start_date: Mapped[dt.date]
    #: The plan: the full questionnaire every this many sessions (0: never; the quick check otherwise).
    full_every: Mapped[int] = mapped_column(default=3, server_default="3")
    #: Raised by every change to the family's members, sessions or answers (``summaries.touch``);
    #: a stored summary computed at an older revision is stale.
    revision: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Whether the stored summary is behind the family's data, or missing: set by ``summaries.touch``, cleared by
    #: ``summaries.refresh``. A flag, not a comparison of revisions, so PostgreSQL knows from its statistics that
    #: few families are due and reads them from the partial index ``ix_family_summary_due``.
    summary_due: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: When the status last became ``closed`` (empty while open); the retention period runs from here.
    closed_on: Mapped[dt.date | None]

    team: Mapped[Team | None] = relationship(back_populates="families")
    therapists: Mapped[list[User]] = relationship(
        secondary=family_therapist, back_populates="families", order_by="User.email"
    )
    members: Mapped[list[Member]] = relationship(
        back_populates="family", order_by="Member.code", cascade="all, delete-orphan", passive_deletes=True
    )
    sessions: Mapped[list[TherapySession]] = relationship(
        back_populates="family", order_by="TherapySession.number", cascade="all, delete-orphan", passive_deletes=True
    )
    #: The stored caseload summary (``summaries``); read-only here, written by ``summaries.refresh``.
    summary: Mapped[FamilySummary | None] = relationship(viewonly=True)
    #: Whether a questionnaire is open past its reminder: loaded by the caseload's query (``with_expression``).
    past_reminder: Mapped[bool | None] = sa.orm.query_expression()

    def __repr__(self) -> str:
        return f"<Family {self.code}>"


class Member(db.Model):
    """A member of a family: every member, children included, is a rater."""

    __table_args__ = (
        sa.UniqueConstraint("family_id", "code"),
        # Target of the composite foreign keys that keep responses inside one family.
        sa.UniqueConstraint("family_id", "id"),
        sa.CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year_range"),
        sa.CheckConstraint(
            "active_from IS NULL OR active_to IS NULL OR active_to >= active_from", name="active_period"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"))
    #: The member's code within the family (same characters as case codes); used in exports.
    code: Mapped[str] = mapped_column(sa.String(vocab.CODE_MAX_LENGTH))
    #: How the therapist calls the member on screen; never exported, never in a URL.
    display_name: Mapped[str] = mapped_column(sa.String(120))
    #: One of ``vocab.ROLES``; a member keeps one role.
    role: Mapped[str] = mapped_column(_enum(vocab.ROLES, "member_role"))
    birth_year: Mapped[int | None]
    #: The period the member takes part in treatment; open ends are allowed.
    active_from: Mapped[dt.date | None]
    active_to: Mapped[dt.date | None]
    #: Where the member's questionnaire links are mailed (for a child: a caregiver's address); optional.
    email: Mapped[str | None] = mapped_column(sa.String(254))
    #: The language of the member's messages and questionnaire (``nl`` or ``en``); empty: the installation's default.
    language: Mapped[str | None] = mapped_column(_enum(vocab.LANGUAGES, "member_language"))

    family: Mapped[Family] = relationship(back_populates="members")

    def __repr__(self) -> str:
        return f"<Member {self.code} of family {self.family_id}>"


class TherapySession(db.Model):
    """One session of a family's treatment, numbered from 1."""

    __tablename__ = "therapy_session"
    __table_args__ = (
        sa.UniqueConstraint("family_id", "number"),
        sa.UniqueConstraint("family_id", "id"),
        sa.CheckConstraint("number >= 1", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"))
    #: Session number within the family, >= 1.
    number: Mapped[int]
    date: Mapped[dt.date]
    #: Whom this session's ratings are about: ``therapist`` or ``team``.
    target: Mapped[str] = mapped_column(
        _enum(vocab.TARGETS, "session_target"), default="therapist", server_default="therapist"
    )
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    family: Mapped[Family] = relationship(back_populates="sessions")
    attendance: Mapped[list[Attendance]] = relationship(
        back_populates="session", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<TherapySession {self.number} of family {self.family_id}>"


class Attendance(db.Model):
    """Whether a member was present at a session."""

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"], ondelete="CASCADE"),
    )

    session_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, index=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(default=True)
    #: The questionnaire this member fills in at this session (empty: none planned).
    instrument: Mapped[str | None] = mapped_column(sa.String(32))

    session: Mapped[TherapySession] = relationship(back_populates="attendance")
    member: Mapped[Member] = relationship(viewonly=True)


class Response(db.Model):
    """One item answer (or an unanswered item, ``value`` empty): the long CSV row, stored.

    The primary key is the key of metrics.md section 3: (family, member, session,
    informant, target, instrument, item); a second answer for the same key is refused by
    the database itself. Millions of rows are expected: the key leads with the family, so a
    family's answers are one index range, and every query starts from the family. There is
    no surrogate id and no further index, because each index slows every insert; on SQLite
    the table is stored WITHOUT ROWID, as the key's own B-tree. Bulk writes go through
    ``bulk.insert`` (COPY on PostgreSQL, executemany on SQLite).
    """

    __table_args__ = (
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"], ondelete="CASCADE"
        ),
        {"sqlite_with_rowid": False},
    )

    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(primary_key=True)
    #: ``self`` (the member rates) or ``therapist`` (the therapist rates the member).
    informant: Mapped[str] = mapped_column(_enum(vocab.INFORMANTS, "informant"), primary_key=True)
    #: ``therapist`` (alliance with the individual therapist) or ``team``.
    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "target"), primary_key=True)
    #: The instrument code; kept as text so old data stays interpretable as definitions change.
    instrument: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: The item code within the instrument.
    item: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    #: The answer on the instrument's scale; empty for an unanswered item.
    value: Mapped[int | None] = mapped_column(sa.SmallInteger)
    #: When the answer was stored; set by the database, so bulk inserts need not send it.
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())


class FormScore(db.Model):
    """One form's scores (metrics.md section 4), stored with its answers: what pages read instead of the answers.

    One row per form in the response store: (family, member, session, informant, target,
    instrument), keyed like the answers. Every path that writes answers writes its forms' rows
    in the same transaction (``scores``); a form without any dimension score has a row too
    (``answered`` counts its items), which the ``scores`` table leaves out. Recomputed by
    ``flask rescore`` when an instrument's definition changes. Gone with the family, member or
    session (ON DELETE CASCADE).
    """

    __tablename__ = "form_score"
    __table_args__ = (
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"], ondelete="CASCADE"
        ),
        {"sqlite_with_rowid": False},
    )

    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(primary_key=True)
    informant: Mapped[str] = mapped_column(_enum(vocab.INFORMANTS, "score_informant"), primary_key=True)
    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "score_target"), primary_key=True)
    instrument: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: Items answered (not empty).
    answered: Mapped[int] = mapped_column(sa.SmallInteger)
    #: Dimension scores and their mean on the instrument's scale, and each as POMP; empty where missing.
    bond: Mapped[float | None] = mapped_column(sa.Float)
    goals_tasks: Mapped[float | None] = mapped_column(sa.Float)
    safety: Mapped[float | None] = mapped_column(sa.Float)
    shared_purpose: Mapped[float | None] = mapped_column(sa.Float)
    total: Mapped[float | None] = mapped_column(sa.Float)
    bond_pomp: Mapped[float | None] = mapped_column(sa.Float)
    goals_tasks_pomp: Mapped[float | None] = mapped_column(sa.Float)
    safety_pomp: Mapped[float | None] = mapped_column(sa.Float)
    shared_purpose_pomp: Mapped[float | None] = mapped_column(sa.Float)
    total_pomp: Mapped[float | None] = mapped_column(sa.Float)


class ResponseChange(db.Model):
    """A correction of a stored answer: the earlier value, the new one, who and when (kept for good)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column()
    session_id: Mapped[int] = mapped_column()
    informant: Mapped[str] = mapped_column(_enum(vocab.INFORMANTS, "change_informant"))
    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "change_target"))
    instrument: Mapped[str] = mapped_column(sa.String(32))
    item: Mapped[str] = mapped_column(sa.String(64))
    #: The value before and after the correction (empty: unanswered).
    old_value: Mapped[int | None] = mapped_column(sa.SmallInteger)
    new_value: Mapped[int | None] = mapped_column(sa.SmallInteger)
    #: Who corrected it (kept when the account is removed, as an empty reference).
    changed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    changed_by: Mapped[User | None] = relationship()


class QuestionnaireRequest(db.Model):
    """One member's questionnaire at one session about one target: the one thing every way of answering fulfils.

    Links, the tablet round, paper forms typed in, the therapist's grid and the import all answer
    a request; its state (``core.requests.request_state``) is what every page shows. A request is
    answered once; answering again is the therapist's explicit ``reopened`` step.
    """

    __tablename__ = "questionnaire_request"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("session_id", "member_id", "instrument", "target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column()
    member_id: Mapped[int] = mapped_column()
    #: The questionnaire, and whom the answers are about.
    instrument: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "request_target"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: Until when the newest link works (empty: no link made).
    expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: Answers given so far (JSON, item code -> value), saved as the member goes; emptied when sent.
    draft: Mapped[str | None] = mapped_column(sa.Text)
    #: When and how it was answered, and who typed it in (paper forms and the therapist's grid).
    answered_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    answered_mode: Mapped[str | None] = mapped_column(_enum(vocab.MODES, "request_mode"))
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    #: When it stopped being asked (the member no longer attends, or another questionnaire is planned).
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: When the link was last sent by e-mail, and when the last reminder went (one a day at most).
    invited_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reminded_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: The last "let them answer again": who and when; the answers that follow are kept as corrections.
    reopened_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    reopened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    member: Mapped[Member] = relationship(foreign_keys=[family_id, member_id], viewonly=True)
    session: Mapped[TherapySession] = relationship(foreign_keys=[family_id, session_id], viewonly=True)
    answered_by: Mapped[User | None] = relationship(foreign_keys=[answered_by_id])
    reopened_by: Mapped[User | None] = relationship(foreign_keys=[reopened_by_id])


class RequestToken(db.Model):
    """A link's token, by its hash: the newest of a request opens it, older ones say a newer link was sent.

    Only a hash of the token is stored: whoever reads the database cannot open a link.
    """

    __tablename__ = "request_token"

    #: SHA-256 of the random token in the link, hex.
    token_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    request_id: Mapped[int] = mapped_column(sa.ForeignKey("questionnaire_request.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: When a newer link of the same request was made.
    replaced_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    request: Mapped[QuestionnaireRequest] = relationship()


class InstrumentDefinition(db.Model):
    """A custom instrument an organisation loaded (the built-in ones ship as package files)."""

    #: The instrument code that responses name.
    code: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: The definition's own version string.
    version: Mapped[str] = mapped_column(sa.String(32))
    #: The definition file's JSON text, exactly as validated and loaded.
    definition: Mapped[str] = mapped_column(sa.Text)
    loaded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class FamilySummary(db.Model):
    """What the caseload shows of a family (concern, reasons, balance), kept until the family changes.

    Computed from the responses by ``summaries.refresh``; fresh while ``revision`` equals
    the family's and ``settings_key`` the installation's thresholds and instruments.
    Member codes only: names are looked up when a page is shown.
    """

    __tablename__ = "family_summary"
    #: The caseload's order: a page is the first rows of this index (no sort of all the families).
    __table_args__ = (sa.Index("ix_family_summary_rank_code", "rank", "code"),)

    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int]
    settings_key: Mapped[str] = mapped_column(sa.String(64))
    #: The family's case code, copied (by ``summaries.refresh``) so that the caseload is ordered by one index.
    code: Mapped[str] = mapped_column(sa.String(vocab.CODE_MAX_LENGTH))
    concern: Mapped[int]
    #: Minus the concern: the caseload's order (concern descending, then code) is this ascending index.
    rank: Mapped[int]
    #: The reasons behind the concern score (JSON list of dicts, as ``analytics.concern`` gives them).
    reasons: Mapped[list] = mapped_column(sa.JSON)
    #: Balance over the latest rated sessions (JSON list of [session, balance]).
    balance: Mapped[list] = mapped_column(sa.JSON)
    latest_session: Mapped[int | None]
    flag_split: Mapped[bool] = mapped_column(default=False)
    flag_rupture: Mapped[bool] = mapped_column(default=False)
    flag_low_early: Mapped[bool] = mapped_column(default=False)
    flag_gap: Mapped[bool] = mapped_column(default=False)
    #: A member's two latest points below the expected trajectory (metrics.md section 10).
    flag_below_expected: Mapped[bool] = mapped_column(default=False)
    computed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class CacheEpoch(db.Model):
    """One counter every worker reads: raised when the page caches of all workers must be emptied.

    An erasure raises it in its own transaction; each worker compares it with the value its
    page cache was filled under (``services.pagecache``) and empties the cache when it moved.
    """

    __tablename__ = "cache_epoch"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(server_default="0")


class AuditEvent(db.Model):
    """One entry of the audit log: who did what to which family, when, and from where.

    Append-only: the database itself refuses to change or delete an entry (triggers made by
    the migration, see ``audit``). Kept apart from the clinical data: no foreign key to any
    clinical table, so erasing a family leaves its entries, and no clinical content (no
    names, no answers, no scores): the case code, the account and what was done.
    """

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    #: The account (no foreign key: the entry outlives the account) and its email and role then.
    user_id: Mapped[int | None]
    user_email: Mapped[str | None] = mapped_column(sa.String(254), index=True)
    user_role: Mapped[str | None] = mapped_column(sa.String(16))
    #: What happened, e.g. ``family.view``, ``family.change``, ``export``, ``login.failed``.
    action: Mapped[str] = mapped_column(sa.String(40), index=True)
    #: The family concerned, by id and by the case code it had then.
    family_id: Mapped[int | None] = mapped_column(index=True)
    family_code: Mapped[str | None] = mapped_column(sa.String(vocab.CODE_MAX_LENGTH), index=True)
    #: The page or command (Flask endpoint) and the HTTP status it answered.
    endpoint: Mapped[str | None] = mapped_column(sa.String(80))
    status: Mapped[int | None]
    #: The client's address (behind a proxy: see ``PROXY_FIX_X_FOR``); empty for the command line.
    ip: Mapped[str | None] = mapped_column(sa.String(45))
    #: Further facts without clinical content (JSON object), e.g. an export's kind and format.
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)


#: The dimensions a rupture can be in: the four of the alliance and their total (metrics.md section 7).
RUPTURE_DIMENSIONS = (*vocab.DIMENSIONS, "total")
#: The longest note a therapist can keep on a rupture.
FOLLOW_UP_NOTE_MAX_LENGTH = 1000


class RuptureFollowUp(db.Model):
    """The therapist's follow-up of a rupture: when it was discussed with the family, and a short note.

    A rupture is not stored (it is computed from the scores, metrics.md section 7); the
    follow-up names it by its key: (family, member, session, informant, target, dimension).
    The note is clinical content: shown to the family's team only, erased with the family
    (ON DELETE CASCADE), never exported and never in the audit log.
    """

    __tablename__ = "rupture_follow_up"
    __table_args__ = (
        sa.ForeignKeyConstraint(["family_id", "member_id"], ["member.family_id", "member.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["family_id", "session_id"], ["therapy_session.family_id", "therapy_session.id"], ondelete="CASCADE"
        ),
        # One follow-up per rupture; named here, as the convention's name would pass PostgreSQL's 63 characters.
        sa.UniqueConstraint(
            "family_id", "member_id", "session_id", "informant", "target", "dimension", name="uq_rupture_follow_up_key"
        ),
        sa.CheckConstraint("discussed_on IS NOT NULL OR note IS NOT NULL", name="discussed_or_noted"),
        sa.CheckConstraint(f"note IS NULL OR length(note) <= {FOLLOW_UP_NOTE_MAX_LENGTH}", name="note_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(sa.ForeignKey("family.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column()
    session_id: Mapped[int] = mapped_column()
    #: The rupture's key besides member and session: who rated, about whom, in which dimension.
    informant: Mapped[str] = mapped_column(_enum(vocab.INFORMANTS, "follow_up_informant"))
    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "follow_up_target"))
    dimension: Mapped[str] = mapped_column(_enum(RUPTURE_DIMENSIONS, "follow_up_dimension"))
    #: When the rupture was discussed with the family (empty: not yet).
    discussed_on: Mapped[dt.date | None]
    #: The therapist's short note (at most ``FOLLOW_UP_NOTE_MAX_LENGTH`` characters); clinical content.
    note: Mapped[str | None] = mapped_column(sa.Text)
    #: Who saved it last, and when (the account kept as an empty reference when removed).
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)

    member: Mapped[Member] = relationship(foreign_keys=[family_id, member_id], viewonly=True)
    session: Mapped[TherapySession] = relationship(foreign_keys=[family_id, session_id], viewonly=True)
    updated_by: Mapped[User | None] = relationship()

    def __repr__(self) -> str:
        return f"<RuptureFollowUp {self.dimension} of member {self.member_id} at session {self.session_id}>"


class ApiToken(db.Model):
    """A personal API token of an account for the FHIR API (``/fhir/R4``): only its SHA-256 is kept.

    The token is shown once when it is made; it reaches what its account may see, no more, and
    stops working when revoked or when the account is deactivated. Gone with its account.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: The name the account gave it (which system or device uses it).
    name: Mapped[str] = mapped_column(sa.String(80))
    #: SHA-256 (hex) of the token: 256 random bits, so a plain hash suffices.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: When a call last used it (empty: never).
    last_used_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    #: When it was revoked (empty: in use).
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} of user {self.user_id}>"


#: The longest supervision note.
SUPERVISION_NOTE_MAX_LENGTH = 2000


class ExpectedTrajectory(db.Model):
    """The expected trajectory of metrics.md section 10, learned from the installation's own families.

    One row per target and session number 1 to 20: how many members' own total points there are,
    and their percentiles (empty below 30 points). Recomputed by ``services.trajectories`` when the
    data changed (``basis``: the fingerprint of the families' revisions and the instruments it was
    computed from), never in a member's request; the family dashboard and the caseload read it.
    """

    __tablename__ = "expected_trajectory"
    __table_args__ = (sa.CheckConstraint("session >= 1", name="session_positive"),)

    target: Mapped[str] = mapped_column(_enum(vocab.TARGETS, "expected_target"), primary_key=True)
    session: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]
    p10: Mapped[float | None] = mapped_column(sa.Float)
    p25: Mapped[float | None] = mapped_column(sa.Float)
    p50: Mapped[float | None] = mapped_column(sa.Float)
    p75: Mapped[float | None] = mapped_column(sa.Float)
    p90: Mapped[float | None] = mapped_column(sa.Float)
    basis: Mapped[str] = mapped_column(sa.String(64))
    computed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    #: When a request last found the table up to date (``trajectories.refresh_if_due``): the fingerprint of
    #: every family is read at most once per ``EXPECTED_REFRESH_MINUTES``.
    checked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class SupervisionNote(db.Model):
    """A short dated reflection note on a therapist's alliance profile, by the therapist or their team lead.

    Visible to both on the profile page; clinical content: never exported, never in the audit log,
    gone with the therapist's account (ON DELETE CASCADE) and erased with the retention of clinical
    notes (``services.privacy``).
    """

    __tablename__ = "supervision_note"
    __table_args__ = (sa.CheckConstraint(f"length(text) <= {SUPERVISION_NOTE_MAX_LENGTH}", name="text_length"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The therapist whose profile the note is about.
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: Who wrote it (kept as an empty reference when that account is removed).
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    text: Mapped[str] = mapped_column(sa.Text)

    therapist: Mapped[User] = relationship(foreign_keys=[therapist_id])
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])

    def __repr__(self) -> str:
        return f"<SupervisionNote {self.id} on user {self.therapist_id}>"
