"""`followthrough doctor`: everything a real install needs, checked, one line per finding.

Each check yields `Finding`s: a pass (✓), a problem with its fix (✗, exit code 1), or a
warning (!). The checks ask Slack the way the app does (the same token, the same calls), so a
clean doctor run means `serve` will start and the first `/report-risk` will work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Engine

from bot.config import ConfigError, Settings
from bot.config import Engine as LlmEngine
from bot.manifest import bot_scopes
from bot.workspaces.service import Identity

OK, PROBLEM, WARN = "ok", "problem", "warn"
MARKS = {OK: "✓", PROBLEM: "✗", WARN: "!"}
# Rows that mean "someone imported data for this workspace" (for the wrong-workspace check).
DATA_TABLES = ("account", "contact", "person", "case", "commitment")


@dataclass(frozen=True)
class Finding:
    kind: str
    text: str

    def line(self) -> str:
        return f"{MARKS[self.kind]} {self.text}"


def ok(text: str) -> Finding:
    return Finding(OK, text)


def problem(text: str) -> Finding:
    return Finding(PROBLEM, text)


def warning(text: str) -> Finding:
    return Finding(WARN, text)


# -- settings, mode, database ----------------------------------------------------------------


def check_mode(settings: Settings) -> Iterator[Finding]:
    try:
        settings.check_slack_mode()
    except ConfigError as exc:
        yield problem(str(exc).removeprefix("Configuration error: "))
        return
    if settings.oauth_enabled:
        yield ok(f"OAuth installs: client id {settings.slack_client_id}, any workspace installs")
    elif settings.slack_bot_token:
        yield ok("One workspace: SLACK_BOT_TOKEN is set")
    else:
        yield problem(
            "Slack is not set up: set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (installs in many) — README: Connect it to Slack"
        )
    if settings.slack_signing_secret:
        yield ok("SLACK_SIGNING_SECRET is set (requests to `serve` are verified)")
    elif settings.slack_app_token and not settings.oauth_enabled:
        yield warning(
            "SLACK_SIGNING_SECRET is not set: fine for `socket`, but `serve` will not start "
            "(Basic Information → App Credentials → Signing Secret)"
        )
    else:
        yield problem(
            "SLACK_SIGNING_SECRET is not set: `serve` cannot verify Slack's requests; copy it "
            "from Basic Information → App Credentials → Signing Secret"
        )


def check_app_token(settings: Settings) -> Iterator[Finding]:
    from bot.slack.connect import SlackProblem
    from bot.slack.connect import check_app_token as probe

    if not settings.slack_app_token:
        return
    try:
        probe(settings)
    except SlackProblem as exc:
        yield problem(str(exc))
        return
    yield ok("SLACK_APP_TOKEN works (apps.connections.open): `followthrough socket` can connect")


def check_database(settings: Settings) -> Iterator[Finding]:
    from bot.migrate import SchemaOutOfDate, check_schema, head_revision

    try:
        check_schema(settings.database_url)
    except SchemaOutOfDate as exc:
        yield problem(str(exc))
        return
    except Exception as exc:  # noqa: BLE001
        yield problem(f"Cannot reach the database ({type(exc).__name__}): check DATABASE_URL")
        return
    yield ok(f"Database schema is at {head_revision()} (head)")


def check_llm(settings: Settings) -> Iterator[Finding]:
    if (
        settings.llm_engine == LlmEngine.OPENAI
        and not settings.openai_api_key
        and not settings.openai_base_url
    ):
        yield problem(
            "LLM_ENGINE=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server); "
            "or leave LLM_ENGINE=rules (offline)"
        )


# -- one workspace's token, scopes, channel, people --------------------------------------------


def check_scopes(identity: Identity, who: str) -> Iterator[Finding]:
    if not identity.scopes:
        yield warning(f"{who}: Slack did not say which scopes the token has (no x-oauth-scopes)")
        return
    wanted = bot_scopes()
    missing = [s for s in wanted if s not in identity.scopes]
    extra = [s for s in identity.scopes if s not in wanted]
    if missing:
        yield problem(
            f"{who}: missing scope(s) {', '.join(missing)}: add them under OAuth & Permissions → "
            "Scopes (or paste `followthrough manifest` again) and reinstall the app"
        )
    else:
        yield ok(f"{who}: all {len(wanted)} scopes the app needs are granted")
    if extra:
        yield warning(
            f"{who}: scope(s) {', '.join(extra)} granted but unused: remove them to keep the "
            "install review short"
        )


def check_channel(client: WebClient, channel: str | None, who: str) -> Iterator[Finding]:
    if not channel:
        yield warning(f"{who}: CS_CHANNEL is not set: case cards go to the reporter's DM only")
        return
    if not re.fullmatch(r"[CG][A-Z0-9]+", channel):
        yield warning(
            f"{who}: CS_CHANNEL '{channel}' is a name, not an id: set the channel id (C…, "
            "channel details → About) so it can be checked and never goes astray"
        )
        return
    try:
        client.conversations_history(channel=channel, limit=1)
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        if code == "not_in_channel":
            yield problem(f"{who}: the bot is not in CS_CHANNEL {channel}: /invite the app there")
        elif code == "channel_not_found":
            yield problem(
                f"{who}: CS_CHANNEL {channel} does not exist (or is private without the bot): "
                "check the id, or /invite the app to the private channel"
            )
        else:
            yield problem(f"{who}: Slack answered {code} when checking CS_CHANNEL {channel}")
        return
    except OSError as exc:
        yield problem(f"{who}: could not check CS_CHANNEL ({type(exc).__name__})")
        return
    yield ok(f"{who}: CS_CHANNEL {channel} exists and the bot is in it")


def check_people(client: WebClient, people_csv: Path, who: str) -> Iterator[Finding]:
    from bot.accounts.service import ImportError_, people_rows

    if not people_csv.exists():
        yield problem(f"{people_csv}: no such file")
        return
    try:
        rows = people_rows(people_csv.read_bytes())
    except ImportError_ as exc:
        yield problem(f"{people_csv}: {exc}")
        return
    found, missing = 0, 0
    for line, row, why in rows:
        if row is None:
            yield problem(f"{people_csv.name} line {line}: {why}")
            missing += 1
            continue
        email = row.get("email", "").lower()
        try:
            user = client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as exc:
            code = exc.response.get("error") if exc.response is not None else None
            if code == "missing_scope":
                needed = exc.response.get("needed") or "users:read.email"
                yield problem(f"{who}: the roster cannot be checked without the {needed} scope")
                return
            if code != "users_not_found":
                yield problem(f"{who}: Slack answered {code} looking up people; stopped there")
                return
            yield problem(
                f"{people_csv.name} line {line}: nobody in {who} has the email {email}: fix "
                "the address or invite them to the workspace"
            )
            missing += 1
            continue
        if user.get("deleted"):
            yield problem(f"{people_csv.name} line {line}: {email} is deactivated in {who}")
            missing += 1
        else:
            found += 1
    if not missing:
        yield ok(f"{people_csv.name}: all {found} people are members of {who}")


def check_data_home(engine: Engine, team_id: str) -> Iterator[Finding]:
    """Rows stored under a team the token does not belong to are never read by the app."""
    counts: dict[str, dict[str, int]] = {}
    meta = sa.MetaData()
    with engine.connect() as conn:
        meta.reflect(conn, only=[t for t in DATA_TABLES if sa.inspect(conn).has_table(t)])
        for table in meta.tables.values():
            for other, n in conn.execute(
                sa.select(table.c.team_id, sa.func.count())
                .where(table.c.team_id != team_id)
                .group_by(table.c.team_id)
            ):
                counts.setdefault(other, {})[table.name] = n
    for other, tables in sorted(counts.items()):
        held = ", ".join(f"{n} {name}(s)" for name, n in tables.items())
        yield problem(
            f"Workspace {other} in this database holds {held}, but SLACK_BOT_TOKEN belongs to "
            f"{team_id}: the app never reads them; import the files again without --team "
            f"(then `followthrough purge --team {other} --yes`)"
        )


def check_workspace(
    settings: Settings,
    engine: Engine,
    identity: Identity,
    token: str,
    channel: str | None,
    people_csv: Path | None,
) -> Iterator[Finding]:
    from bot.slack.connect import probe_client

    who = identity.label
    client = probe_client(settings, token)
    yield from check_scopes(identity, who)
    yield from check_channel(client, channel, who)
    if people_csv is not None:
        yield from check_people(client, people_csv, who)


# -- the whole run -----------------------------------------------------------------------------


def run_checks(
    settings: Settings, people_csv: Path | None = None, team: str | None = None
) -> Iterator[Finding]:
    from bot.db import engine_for, normalise_url, session_scope
    from bot.slack.connect import SlackProblem, identify
    from bot.workspaces.service import get_workspace

    yield from check_mode(settings)
    yield from check_app_token(settings)
    db = list(check_database(settings))
    yield from db
    yield from check_llm(settings)
    engine = engine_for(normalise_url(settings.database_url)) if db[0].kind == OK else None

    def cs_channel(team_id: str) -> str | None:
        if engine is None:
            return settings.cs_channel
        with session_scope(engine) as session:
            ws = get_workspace(session, team_id)
        return (ws.cs_channel_id if ws else None) or settings.cs_channel

    if settings.slack_bot_token and not settings.oauth_enabled:
        try:
            identity = identify(settings, settings.slack_bot_token)
        except SlackProblem as exc:
            yield problem(str(exc))
            return
        yield ok(
            f"SLACK_BOT_TOKEN works: workspace {identity.label}, bot user {identity.bot_user_id}"
        )
        yield from check_workspace(
            settings,
            engine,  # type: ignore[arg-type]
            identity,
            settings.slack_bot_token,
            cs_channel(identity.team_id),
            people_csv,
        )
        if engine is not None:
            yield from check_data_home(engine, identity.team_id)
        return
    if settings.oauth_enabled and engine is not None:
        yield from _check_installs(settings, engine, people_csv, cs_channel, team)


def _check_installs(
    settings: Settings,
    engine: Engine,
    people_csv: Path | None,
    cs_channel: Callable[[str], str | None],
    team: str | None,
) -> Iterator[Finding]:
    from bot.notify import DeliveryError
    from bot.slack.client import WorkspaceClients
    from bot.slack.connect import SlackProblem, identify
    from bot.workspaces.installations import InstallationStore

    clients = WorkspaceClients(
        settings, engine, store=InstallationStore(settings.slack_client_id or "", engine)
    )
    teams = clients.teams()
    if not teams:
        yield warning(
            "No workspace has installed the app yet: open /slack/install on the public URL of "
            "`followthrough serve`"
        )
        return
    if team is not None:
        if team not in teams:
            yield problem(
                f"--team {team} has not installed the app (installed: {', '.join(teams)})"
            )
            return
        teams = [team]
    elif people_csv is not None and len(teams) > 1:
        yield warning(f"{people_csv.name} is one workspace's roster: pass --team to check it")
        people_csv = None
    for team_id in teams:
        try:
            grant = clients.grant(team_id)
            identity = identify(settings, grant.token, setting=f"the token of {team_id}")
        except DeliveryError as exc:
            yield warning(f"Workspace {team_id}: {exc} — skipped")
            continue
        except SlackProblem as exc:
            yield problem(f"Workspace {team_id}: {exc}")
            continue
        yield ok(f"Workspace {identity.label}: installed, its bot token works")
        yield from check_workspace(
            settings, engine, identity, grant.token, cs_channel(team_id), people_csv
        )
