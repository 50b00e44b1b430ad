"""SQLModel tables. Every row carries `team_id`: every query is scoped by workspace.

Times are stored as timezone-aware UTC (SQLite hands them back naive; `clock.as_utc` fixes
that at the edges). States are plain strings from the enums below so the database stays
readable by a team's own SQL.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from bot import clock


def _ts(**kw: Any) -> Any:
    return Field(sa_column=sa.Column(sa.DateTime(timezone=True), **kw))


def _json(**kw: Any) -> Any:
    return Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False, **kw))


def _text(**kw: Any) -> Any:
    return Field(default=None, sa_column=sa.Column(sa.Text, **kw))


def _created() -> Any:
    return Field(
        default_factory=clock.now,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False),
    )


# --- enums -----------------------------------------------------------------------------


class Role(StrEnum):
    CSM = "csm"
    CS_MANAGER = "cs_manager"
    ACCOUNT_EXECUTIVE = "account_executive"
    SUPPORT_LEAD = "support_lead"
    EXEC_SPONSOR = "exec_sponsor"
    OTHER = "other"


class TranscriptStatus(StrEnum):
    QUEUED = "queued"  # stored, waiting for extraction
    PROCESSING = "processing"  # claimed by a worker (lease in `lease_until`)
    REVIEW = "review"  # proposals posted for review
    FAILED = "failed"  # unreadable; the file is kept, the user was told why


class InboxStatus(StrEnum):
    PENDING = "pending"  # written down (or claimed: `attempts` is the claim token)
    DONE = "done"  # carried out (its listener ran: done, refused or failed and told)
    FAILED = "failed"  # given up: it cannot be run (unknown listener, too many tries)


class CommitmentStatus(StrEnum):
    PROPOSED = "proposed"
    OPEN = "open"
    DONE = "done"
    DISMISSED = "dismissed"


class CaseStatus(StrEnum):
    PLANNING = "planning"  # created; drafts being written
    PLANNED = "planned"  # plan shown; reporter may still change it
    RUNNING = "running"
    PAUSED = "paused"
    AWAITING_CLOSE = "awaiting_close"  # last step done, owner asked to close or extend
    RESOLVED = "resolved"  # saved
    CHURNED = "churned"
    CANCELLED = "cancelled"


OPEN_CASE_STATUSES = (
    CaseStatus.PLANNING,
    CaseStatus.PLANNED,
    CaseStatus.RUNNING,
    CaseStatus.PAUSED,
    CaseStatus.AWAITING_CLOSE,
)


class StepStatus(StrEnum):
    PLANNED = "planned"  # case not started yet
    SCHEDULED = "scheduled"  # due at `due_at`
    AWAITING = "awaiting"  # DM handed to the outbox, waiting for Yes / No / Edit
    SENDING = "sending"  # decided Yes/Edit, the outbox is delivering the message
    DONE = "done"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


# --- workspace and people ----------------------------------------------------------------


class Workspace(SQLModel, table=True):
    """A Slack workspace the app serves. `active` is false once it uninstalled the app or
    revoked its bot token: nothing more is sent there, its data stays for export/purge."""

    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True, index=True)
    name: str | None = None
    bot_user_id: str | None = Field(default=None, max_length=32)
    bot_id: str | None = Field(default=None, max_length=32)
    cs_channel_id: str | None = Field(default=None, max_length=32)
    active: bool = Field(default=True, sa_column_kwargs={"server_default": sa.true()})
    deactivated_at: dt.datetime | None = _ts(nullable=True)
    deactivated_reason: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _created()


class Person(SQLModel, table=True):
    """A Slack user, cached: fetched once with users.info and refreshed when stale."""

    __table_args__ = (sa.UniqueConstraint("team_id", "slack_user_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    slack_user_id: str = Field(max_length=32)
    name: str = ""
    real_name: str | None = None
    email: str | None = Field(default=None, index=True)
    tz: str | None = None
    role: str = Field(default=Role.OTHER, max_length=32)
    manager_user_id: str | None = Field(default=None, max_length=32)
    is_admin: bool = False
    deactivated: bool = False
    digest_enabled: bool = True
    digest_hour: int | None = None
    # when the digest job must next look at this person (NULL: as soon as it can)
    next_digest_at: dt.datetime | None = _ts(nullable=True, index=True)
    fetched_at: dt.datetime | None = _ts(nullable=True)


# --- accounts ---------------------------------------------------------------------------


class Account(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("team_id", "domain"),
        sa.UniqueConstraint("team_id", "crm_id"),
        # /report-risk Acme: the name, case-insensitive, without reading every account
        sa.Index("ix_account_name_ci", "team_id", sa.text("lower(name)")),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    name: str = Field(index=True)
    domain: str | None = None
    crm_id: str | None = None
    csm_user_id: str | None = Field(default=None, max_length=32)
    ae_user_id: str | None = Field(default=None, max_length=32)
    arr: float | None = None
    renewal_date: dt.date | None = None
    tier: str | None = None
    slack_channel_id: str | None = Field(default=None, max_length=32)
    notes: str | None = _text(nullable=True)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str
    email: str | None = None
    title: str | None = None
    role: str | None = Field(default=None, max_length=64)  # champion, economic_buyer, …
    slack_user_id: str | None = Field(default=None, max_length=32)  # Slack Connect, if any
    created_at: dt.datetime = _created()


# --- audit and idempotency ------------------------------------------------------------


class AuditEvent(SQLModel, table=True):
    """Append-only: who changed what, when, from which state to which."""

    __table_args__ = (
        sa.Index("ix_audit_entity", "team_id", "entity", "entity_id"),
        # the signal rules read one kind of event (CRM field changes) past a cursor
        sa.Index("ix_audit_action", "team_id", "action", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    at: dt.datetime = _created()
    actor: str = Field(max_length=64)  # Slack user id, "system" or "cli"
    entity: str = Field(max_length=32)
    entity_id: int | None = None
    action: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str | None = Field(default=None, max_length=32)
    detail: dict[str, Any] = _json()


class ProcessedEvent(SQLModel, table=True):
    """Events API deliveries already handled (Slack retries carry the same event_id)."""

    __table_args__ = (sa.UniqueConstraint("team_id", "event_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    event_id: str = Field(max_length=64)
    received_at: dt.datetime = _created()


# --- commitment capture ---------------------------------------------------------------


class Transcript(SQLModel, table=True):
    """An uploaded call: the original bytes and hash are kept whatever happens to it."""

    __table_args__ = (
        sa.UniqueConstraint("team_id", "sha256"),
        sa.Index("ix_transcript_status", "status", "lease_until"),
        # the retention job: only transcripts whose text is still there, by age
        sa.Index(
            "ix_transcript_unpurged",
            "created_at",
            postgresql_where=sa.text("text_purged_at IS NULL"),
            sqlite_where=sa.text("text_purged_at IS NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    sha256: str = Field(max_length=64)
    slack_file_id: str | None = Field(default=None, max_length=32)
    filename: str = ""
    size_bytes: int = 0
    content: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    format: str | None = Field(default=None, max_length=16)
    text: str | None = _text(nullable=True)  # normalised "Speaker: text" lines; purgeable
    speakers: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    word_count: int = 0
    call_date: dt.date | None = None
    account_id: int | None = Field(default=None, foreign_key="account.id")
    uploader_user_id: str | None = Field(default=None, max_length=32)
    channel_id: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    status: str = Field(default=TranscriptStatus.QUEUED, max_length=16)
    error: str | None = _text(nullable=True)
    engine: str | None = Field(default=None, max_length=16)
    fallback_reason: str | None = _text(nullable=True)
    attempts: int = 0
    lease_until: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _created()
    processed_at: dt.datetime | None = _ts(nullable=True)
    text_purged_at: dt.datetime | None = _ts(nullable=True)


class Commitment(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_commitment_owner", "team_id", "owner_user_id", "status"),
        sa.Index("ix_commitment_due", "status", "due_date"),
        sa.Index("ix_commitment_followup", "status", "followup_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    transcript_id: int | None = Field(default=None, foreign_key="transcript.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    owner_name: str | None = None
    owner_user_id: str | None = Field(default=None, max_length=32)
    side: str = Field(default="unknown", max_length=16)
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    due_date: dt.date | None = None
    due_phrase: str | None = None
    category: str = Field(default="other", max_length=32)
    evidence: str | None = _text(nullable=True)
    confidence: float = 0.5
    engine: str | None = Field(default=None, max_length=16)
    status: str = Field(default=CommitmentStatus.PROPOSED, max_length=16)
    review_channel: str | None = Field(default=None, max_length=32)
    review_ts: str | None = Field(default=None, max_length=32)
    created_by: str | None = Field(default=None, max_length=32)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: dt.datetime | None = _ts(nullable=True)
    done_at: dt.datetime | None = _ts(nullable=True)
    snoozed_until: dt.date | None = None
    reminded_for: dt.date | None = None  # due date the "due tomorrow" reminder was sent for
    overdue_notified_at: dt.datetime | None = _ts(nullable=True)
    # when the follow-up job must next look at it (NULL: as soon as it can; see bot.followup)
    followup_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


# --- playbooks and cases --------------------------------------------------------------


class Playbook(SQLModel, table=True):
    """One version of a playbook template; a running case keeps the version it started with."""

    __table_args__ = (sa.UniqueConstraint("team_id", "key", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    key: str = Field(max_length=64)
    version: int = 1
    name: str
    summary: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    definition: dict[str, Any] = _json()  # the validated template (steps …)
    source: str = Field(default="file", max_length=16)  # file | slack
    retired: bool = False
    created_by: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _created()


class Case(SQLModel, table=True):
    __table_args__ = (sa.Index("ix_case_open", "team_id", "account_id", "risk_key", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account_id: int = Field(foreign_key="account.id", index=True)
    risk_key: str = Field(max_length=64)
    playbook_id: int = Field(foreign_key="playbook.id")
    playbook_version: int = 1
    reporter_user_id: str | None = Field(default=None, max_length=32)
    owner_user_id: str | None = Field(default=None, max_length=32)
    context: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    links: str | None = _text(nullable=True)
    gathered: dict[str, Any] = _json()
    status: str = Field(default=CaseStatus.PLANNING, max_length=16)
    outcome: str = Field(default="open", max_length=16)  # open | saved | churned
    current_step: int = 0
    total_steps: int = 0
    resolution_step: int | None = None
    notes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    card_channel: str | None = Field(default=None, max_length=32)
    card_ts: str | None = Field(default=None, max_length=32)
    reporter_channel: str | None = Field(default=None, max_length=32)
    reporter_ts: str | None = Field(default=None, max_length=32)
    lease_until: dt.datetime | None = _ts(nullable=True)
    opened_at: dt.datetime = _created()
    started_at: dt.datetime | None = _ts(nullable=True)
    resolved_at: dt.datetime | None = _ts(nullable=True)
    updated_at: dt.datetime = _created()


class CaseStep(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("case_id", "position"),
        sa.Index("ix_step_due", "status", "due_at"),
        sa.Index("ix_step_lease", "status", "lease_until"),
        sa.Index("ix_step_assignee", "team_id", "assignee_user_id", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    case_id: int = Field(foreign_key="case.id")
    position: int
    summary: str
    medium: str = Field(max_length=16)
    assignee_role: str = Field(max_length=64)
    assignee_user_id: str | None = Field(default=None, max_length=32)
    assignee_fallback: bool = False  # role unknown → reporter
    recipient_spec: str = Field(default="", max_length=128)
    recipient_label: str = ""
    recipient_ref: str | None = None  # Slack user/channel id or email address
    delay_seconds: int = 0
    draft: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    final_text: str | None = _text(nullable=True)
    status: str = Field(default=StepStatus.PLANNED, max_length=16)
    due_at: dt.datetime | None = _ts(nullable=True)
    lease_until: dt.datetime | None = _ts(nullable=True)
    attempts: int = 0
    message_key: str | None = Field(default=None, max_length=200)  # outbox key of its live DM
    dm_channel: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)
    delivered_ts: str | None = Field(default=None, max_length=32)
    decision: str | None = Field(default=None, max_length=16)  # yes | no | edit
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: dt.datetime | None = _ts(nullable=True)
    reason: str | None = _text(nullable=True)
    reminded_at: dt.datetime | None = _ts(nullable=True)
    escalated_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


# --- digest ------------------------------------------------------------------------------


class DigestSend(SQLModel, table=True):
    """One row per person per local day: the unique key is what stops a second digest."""

    __table_args__ = (sa.UniqueConstraint("team_id", "user_id", "local_date"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    local_date: dt.date
    status: str = Field(default="queued", max_length=16)  # queued | sent | failed
    message_ts: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _created()


# --- outbound messages (the transactional outbox) ---------------------------------------


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for `due_at`
    SENDING = "sending"  # claimed by a sender (lease in `lease_until`, token in `attempts`)
    SENT = "sent"
    FAILED = "failed"  # Slack refused it for good; the kind's on_failed hook ran
    CANCELLED = "cancelled"  # nothing left to say (e.g. an update of a message never posted)


class OutboundMessage(SQLModel, table=True):
    """One message to Slack (or one email), written in the same transaction as the change that
    causes it and delivered exactly once by `bot.outbox` (see its module docstring)."""

    __tablename__ = "outbound_message"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "key"),
        sa.Index("ix_outbound_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    key: str = Field(max_length=200)  # idempotency key, also sent as Slack message metadata
    kind: str = Field(default="message", max_length=32)  # selects hooks and renderer
    op: str = Field(default="post", max_length=8)  # post | update | email
    entity: str | None = Field(default=None, max_length=32)
    entity_id: int | None = None
    user_id: str | None = Field(default=None, max_length=32)  # DM target
    channel: str | None = Field(default=None, max_length=32)  # channel id (or the DM's, once open)
    ref_key: str | None = Field(default=None, max_length=200)  # update: the post it edits
    thread_ts: str | None = Field(default=None, max_length=32)
    text: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    blocks: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    detail: dict[str, Any] = _json()  # email: to, subject, sender
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    version: int = 0  # bumped when an update is asked for again while pending or sending
    attempts: int = 0  # claim token
    failures: int = 0  # consecutive failed tries (the backoff counts these, not claims)
    due_at: dt.datetime | None = _ts(nullable=True)
    lease_until: dt.datetime | None = _ts(nullable=True)
    maybe_sent: bool = False  # a post was started and its outcome is unknown: reconcile first
    posting_at: dt.datetime | None = _ts(nullable=True)
    sent_channel: str | None = Field(default=None, max_length=32)
    sent_ts: str | None = Field(default=None, max_length=32)
    error: str | None = _text(nullable=True)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()
    sent_at: dt.datetime | None = _ts(nullable=True)


class InboundAction(SQLModel, table=True):
    """A click written down before Slack hears back, and carried out by a worker
    (`bot.inbox`): the ack costs one INSERT, and a process that dies after the ack loses
    nothing (the row is still pending; its lease expires; another worker takes it)."""

    __tablename__ = "inbound_action"
    __table_args__ = (sa.Index("ix_inbound_due", "status", "due_at"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    route: str = Field(max_length=120)  # the listener that carries it out (module.function)
    body: dict[str, Any] = _json()  # Slack's payload, as Bolt parsed it
    status: str = Field(default=InboxStatus.PENDING, max_length=16)
    attempts: int = 0  # claim token
    due_at: dt.datetime = Field(
        default_factory=clock.now,
        sa_column=sa.Column(sa.DateTime(timezone=True), nullable=False),
    )
    created_at: dt.datetime = _created()
    done_at: dt.datetime | None = _ts(nullable=True)


# --- CRM (HubSpot, Salesforce) ------------------------------------------------------------


class CrmConnection(SQLModel, table=True):
    """One CRM per workspace: which vendor, where the sync has got to, and how it is doing.

    `cursor` is the vendor's own incremental position (per object), written in the same
    transaction as the page it follows, so a sync that stops resumes exactly there.
    `attempts` is the claim token: only the sync holding the current token may write.
    """

    __tablename__ = "crm_connection"
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True, index=True)
    vendor: str = Field(max_length=16)  # hubspot | salesforce
    write_back: bool = True
    cursor: dict[str, Any] = _json()
    portal: str | None = Field(default=None, max_length=255)  # HubSpot portal id / SF instance URL
    status: str = Field(default="new", max_length=16)  # new | syncing | ok | error | auth_failed
    full_done: bool = False
    lease_until: dt.datetime | None = _ts(nullable=True)
    attempts: int = 0
    next_sync_at: dt.datetime | None = _ts(nullable=True)
    full_requested: bool = False
    last_started_at: dt.datetime | None = _ts(nullable=True)
    last_success_at: dt.datetime | None = _ts(nullable=True)
    last_error: str | None = _text(nullable=True)
    last_error_at: dt.datetime | None = _ts(nullable=True)
    failures: int = 0  # consecutive failed syncs
    progress: dict[str, Any] = _json()  # counts of the running / last sync
    warnings: list[str] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )  # the last sync's data problems (bounded)
    owners_synced_at: dt.datetime | None = _ts(nullable=True)
    deletions_checked_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _created()


class CrmRecord(SQLModel, table=True):
    """A CRM record we have seen, and the local row it became (account, contact, person).

    Keyed by the CRM's own id, never by email or domain (those change); a deleted or merged
    record keeps its row so its history and open cases stay readable.
    """

    __tablename__ = "crm_record"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "vendor", "kind", "external_id"),
        sa.Index("ix_crm_record_local", "team_id", "kind", "local_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    vendor: str = Field(max_length=16)
    kind: str = Field(max_length=16)  # company | contact | owner
    external_id: str = Field(max_length=64)
    local_id: int | None = None
    label: str | None = Field(default=None, max_length=255)  # owner email, company name …
    modified_at: dt.datetime | None = _ts(nullable=True)
    deleted_at: dt.datetime | None = _ts(nullable=True)
    merged_into: str | None = Field(default=None, max_length=64)
    synced_at: dt.datetime = _created()


class CrmWrite(SQLModel, table=True):
    """A write to the CRM, recorded as intent in the transaction that causes it.

    The row is the task (or note) as it should be in the CRM; the sender makes the CRM match
    and stores the CRM's id. `key` is also the external id the CRM keeps on the object, so a
    sender whose lease ran out finds what an earlier attempt created instead of repeating it.
    """

    __tablename__ = "crm_write"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "key"),
        sa.Index("ix_crm_write_due", "status", "due_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    vendor: str = Field(max_length=16)
    key: str = Field(max_length=64)  # "ft-commitment-42" / "ft-case-7-note"
    kind: str = Field(max_length=16)  # task | note
    entity: str = Field(max_length=32)  # commitment | case
    entity_id: int
    desired: str = Field(default="open", max_length=16)  # task: open | done | deferred
    status: str = Field(default="pending", max_length=16)  # pending | claimed | done | failed
    external_id: str | None = Field(default=None, max_length=64)
    synced: str | None = Field(default=None, max_length=64)  # fingerprint of what the CRM has
    attempts: int = 0
    due_at: dt.datetime | None = _ts(nullable=True)
    lease_until: dt.datetime | None = _ts(nullable=True)
    last_error: str | None = _text(nullable=True)
    notified_at: dt.datetime | None = _ts(nullable=True)
    created_at: dt.datetime = _created()
    done_at: dt.datetime | None = _ts(nullable=True)


# --- signals (bot.signals: inbound API, rules, suggested cases) --------------------------
# A signal is stored the moment it arrives (`status = new`) and evaluated by the worker; the
# `(status, id)` index makes a tick with nothing new one index probe. A suggestion's
# `active_key` is set while it is open, snoozed or running as a case and NULL afterwards, so
# a plain unique constraint on `(team_id, active_key)` lets the database refuse a second
# open suggestion for the same account and risk (NULLs never collide).


class SignalStatus(StrEnum):
    NEW = "new"  # stored, not evaluated yet
    EVALUATED = "evaluated"  # matched to an account and run through the rules
    UNMATCHED = "unmatched"  # no account for its key: kept, shown to CS admins to map
    ACCOUNT_DELETED = "account_deleted"  # its account was deleted or merged away


class SuggestionStatus(StrEnum):
    OPEN = "open"  # DM sent (or being sent) to the CSM, waiting for a decision
    SNOOZED = "snoozed"  # "Not now": asked again at `snoozed_until`
    STARTING = "starting"  # Start plan clicked; the case is being drafted
    STARTED = "started"  # a case runs for it (`case_id`)
    DISMISSED = "dismissed"  # with a reason; remembered until `cooldown_until`
    CLOSED = "closed"  # its case closed (saved / churned / cancelled)


ACTIVE_SUGGESTION = (
    SuggestionStatus.OPEN,
    SuggestionStatus.SNOOZED,
    SuggestionStatus.STARTING,
    SuggestionStatus.STARTED,
)


class SignalSource(SQLModel, table=True):
    """A sender with its own secret (`POST /signals/<key>`), or a weaker URL token."""

    __tablename__ = "signal_source"
    __table_args__ = (sa.UniqueConstraint("team_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, index=True)
    key: str = Field(max_length=40)
    adapter: str = Field(default="generic", max_length=32)  # generic | zendesk | …
    secret: str | None = Field(default=None, max_length=200)  # whsec_… or the vendor's secret
    url_token: str | None = Field(default=None, max_length=100)  # weaker: for tools that can't sign
    created_by: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _created()
    last_seen_at: dt.datetime | None = _ts(nullable=True)


class SignalEvent(SQLModel, table=True):
    __tablename__ = "signal_event"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "idempotency_key"),
        sa.Index("ix_signal_event_status", "status", "id"),
        # covering: a rule's window (count, max, min of value) is read from the index alone
        sa.Index(
            "ix_signal_event_history",
            "team_id",
            "account_id",
            "signal_type",
            "occurred_at",
            "value",
            "status",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    source: str = Field(max_length=40)
    idempotency_key: str = Field(max_length=200)
    webhook_id: str | None = Field(default=None, max_length=200)
    webhook_ts: int | None = Field(default=None, sa_column=sa.Column(sa.BigInteger))
    auth: str = Field(default="signed", max_length=16)  # signed | token | cli | import | builtin
    account_key: str = Field(max_length=200)
    account_id: int | None = None  # no FK: the signal outlives a deleted account
    signal_type: str = Field(max_length=64)
    value: float | None = None
    previous_value: float | None = None
    value_text: str | None = Field(default=None, max_length=200)
    unit: str | None = Field(default=None, max_length=32)
    occurred_at: dt.datetime = _created()
    received_at: dt.datetime = _created()
    context: dict[str, Any] = _json()
    status: str = Field(default=SignalStatus.NEW, max_length=16)
    evaluated_at: dt.datetime | None = _ts(nullable=True)


class SignalAlias(SQLModel, table=True):
    """An account key a CS admin mapped by hand (e.g. a Zendesk organisation id)."""

    __tablename__ = "signal_alias"
    __table_args__ = (sa.UniqueConstraint("team_id", "account_key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account_key: str = Field(max_length=200)
    account_id: int = Field(foreign_key="account.id")
    created_by: str | None = Field(default=None, max_length=64)
    created_at: dt.datetime = _created()


class SignalRule(SQLModel, table=True):
    """A rule in force for a team: replaced only by a file that validates."""

    __tablename__ = "signal_rule"
    __table_args__ = (sa.UniqueConstraint("team_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    key: str = Field(max_length=64)
    version: int = 1
    definition: dict[str, Any] = _json()
    source: str = Field(default="", max_length=255)
    sha256: str = Field(default="", max_length=64)
    retired: bool = False
    loaded_at: dt.datetime = _created()


class SignalRuleset(SQLModel, table=True):
    """Per team: what the rules folder looked like when last read, and its problems."""

    __tablename__ = "signal_ruleset"
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32, unique=True)
    fingerprint: str = Field(default="", max_length=64)
    problems: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    checked_at: dt.datetime = _created()


class SignalCursor(SQLModel, table=True):
    """How far a built-in signal scan has read (an audit id, a date …)."""

    __tablename__ = "signal_cursor"
    __table_args__ = (sa.UniqueConstraint("team_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    name: str = Field(max_length=64)
    position: str = Field(default="", max_length=64)
    updated_at: dt.datetime = _created()


class SignalSuggestion(SQLModel, table=True):
    __tablename__ = "signal_suggestion"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "active_key"),
        sa.Index("ix_signal_suggestion_status", "status", "snoozed_until"),
        sa.Index("ix_signal_suggestion_account", "team_id", "account_id", "risk_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    account_id: int = Field(foreign_key="account.id")
    risk_key: str = Field(max_length=64)
    playbook_key: str = Field(max_length=64)
    rule_key: str = Field(max_length=64)  # the rule that opened it
    active_key: str | None = Field(default=None, max_length=100)
    status: str = Field(default=SuggestionStatus.OPEN, max_length=16)
    csm_user_id: str | None = Field(default=None, max_length=32)
    signal_count: int = 0
    first_signal_at: dt.datetime | None = _ts(nullable=True)
    last_signal_at: dt.datetime | None = _ts(nullable=True)
    snoozed_until: dt.datetime | None = _ts(nullable=True)
    cooldown_until: dt.datetime | None = _ts(nullable=True)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    outcome: str | None = Field(default=None, max_length=16)  # saved | churned | cancelled
    dismiss_reason: str | None = _text(nullable=True)
    decided_by: str | None = Field(default=None, max_length=32)
    decided_at: dt.datetime | None = _ts(nullable=True)
    # the CSM's DM goes through the outbox under `dm_key`; where it landed is kept here
    dm_key: str | None = Field(default=None, max_length=200)
    dm_channel: str | None = Field(default=None, max_length=32)
    dm_ts: str | None = Field(default=None, max_length=32)
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()


class SignalEvidence(SQLModel, table=True):
    """Which signals (and which rule) fed a suggestion: "what fired and why"."""

    __tablename__ = "signal_evidence"
    __table_args__ = (sa.UniqueConstraint("suggestion_id", "signal_id"),)
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    suggestion_id: int = Field(foreign_key="signal_suggestion.id", index=True)
    signal_id: int = Field(foreign_key="signal_event.id", index=True)
    rule_key: str = Field(max_length=64)
    why: str = Field(default="", max_length=300)
    suppressed: bool = False  # arrived while dismissed (cooldown): counted, not shown again
    created_at: dt.datetime = _created()


# --- recorders (bot.recorders: Zoom and POST /transcripts) -------------------------------
# One row per recorded transcript a recorder told us about; the unique (team_id, vendor,
# external_id) key (Zoom: meeting UUID + recording file id) makes duplicate deliveries find
# the row. The row is the download job; once the bytes are in, it hands capture a Transcript.


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) download attempt at `next_attempt_at`
    DOWNLOADING = "downloading"  # claimed (lease in `lease_until`)
    DONE = "done"  # a Transcript row exists (`transcript_id`)
    FAILED = "failed"  # gave up; the host was told


class RecorderDelivery(SQLModel, table=True):
    __tablename__ = "recorder_delivery"
    __table_args__ = (
        sa.UniqueConstraint("team_id", "vendor", "external_id"),
        sa.Index("ix_recorder_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: str = Field(max_length=32)
    vendor: str = Field(max_length=32)
    external_id: str = Field(max_length=255)
    topic: str = Field(default="", max_length=300)
    host_email: str | None = Field(default=None, max_length=255)
    host_user_id: str | None = Field(default=None, max_length=32)
    participants: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    started_at: dt.datetime | None = _ts(nullable=True)
    filename: str = Field(default="", max_length=255)
    download_url: str | None = _text(nullable=True)
    download_token: str | None = _text(nullable=True)  # a secret: never logged
    content: bytes | None = Field(default=None, sa_column=sa.Column(sa.LargeBinary))
    account_id: int | None = Field(default=None, foreign_key="account.id")
    status: str = Field(default=DeliveryStatus.PENDING, max_length=16)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = _ts(nullable=True)
    lease_until: dt.datetime | None = _ts(nullable=True)
    error: str | None = _text(nullable=True)
    transcript_id: int | None = Field(default=None, foreign_key="transcript.id")
    created_at: dt.datetime = _created()
    updated_at: dt.datetime = _created()
