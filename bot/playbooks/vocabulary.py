"""The words of a playbook: its roles, media, recipient kinds and size limits (shared by
the schema and the cross-checks, which must not import each other)."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.playbooks.render import SLACK_SECTION_LIMIT

MIN_ADVISED_STEPS, MAX_ADVISED_STEPS = 4, 7
MAX_STEPS = 20
MAX_SUMMARY_CHARS = 200  # a step summary is a one-line label in DMs and reports
MAX_SUBJECT_CHARS = 150
MAX_MESSAGE_CHARS = SLACK_SECTION_LIMIT  # a draft is shown in one Block Kit section
SKIP_CROSS_CHECKS = "skip_cross_checks"  # validation context flag used by parse.py

SLUG = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
EMAIL = re.compile(r"^[^@\s:]+@[^@\s]+\.[A-Za-z]{2,}$")
CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9_-]{0,79}$")


class AssigneeRole(StrEnum):
    """Roles on our side that can own a step."""

    CSM = "csm"
    CS_MANAGER = "cs_manager"
    ACCOUNT_EXECUTIVE = "account_executive"
    SUPPORT_LEAD = "support_lead"
    EXEC_SPONSOR = "exec_sponsor"


class ContactRole(StrEnum):
    """Roles of people at the customer, as recorded on the account."""

    CHAMPION = "champion"
    ECONOMIC_BUYER = "economic_buyer"
    EXECUTIVE_SPONSOR = "executive_sponsor"
    NEW_POINT_OF_CONTACT = "new_point_of_contact"
    PRIMARY_CONTACT = "primary_contact"
    ADMIN = "admin"
    TECHNICAL_CONTACT = "technical_contact"


class Medium(StrEnum):
    SLACK = "slack"
    EMAIL = "email"
    CALL = "call"
    MEETING = "meeting"
    INTERNAL = "internal"  # a task for the assignee; the message is their checklist/note


class RecipientKind(StrEnum):
    CONTACT = "contact"  # someone at the customer, by role
    INTERNAL = "internal"  # a colleague, by role
    CHANNEL = "channel"  # a Slack channel, by name
    PERSON = "person"  # a named person, by email
