"""`followthrough signal …`: send or import signals, check and load rules, map unknown
account keys, and set up sources (a signing secret, or a weaker URL token)."""

from __future__ import annotations

import csv
import io
import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from bot.runtime import Runtime

signal_app = typer.Typer(
    help="Signals: send, import, rules, unknown accounts, sources.", no_args_is_help=True
)
rules_app = typer.Typer(help="Signal rules (YAML).", no_args_is_help=True)
signal_app.add_typer(rules_app, name="rules")
TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Slack team id (default: the only one)")
]


def _team(rt: Runtime, team: str | None) -> str:
    from bot.clikit import fail
    from bot.db import session_scope
    from bot.workspaces.service import NoWorkspace, resolve_team

    try:
        with session_scope(rt.engine) as session:
            return resolve_team(session, team)
    except NoWorkspace as exc:
        raise fail(str(exc), 2) from None


def _rt() -> Runtime:
    from bot.clikit import checked_runtime, settings_or_exit

    return checked_runtime(settings_or_exit())


def _rows(path: Path) -> list[dict]:
    """A JSON list / {"signals": […]} or a CSV with account,type,value,previous_value,
    source,occurred_at,idempotency_key,reason columns → signal bodies."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        return data["signals"] if isinstance(data, dict) else data
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        body: dict = {
            "account": row.get("account") or "",
            "signal": {
                "type": row.get("type") or "",
                "value": row.get("value") or None,
                "previous_value": row.get("previous_value") or None,
            },
        }
        for k in ("source", "occurred_at", "idempotency_key"):
            if row.get(k):
                body[k] = row[k]
        if row.get("reason"):
            body["context"] = {"reason": row["reason"]}
        out.append(body)
    return out


@signal_app.command("send")
def send(
    account: Annotated[str, typer.Option(help="Account: CRM id, domain or name")],
    kind: Annotated[str, typer.Option("--type", help="Signal type, e.g. health_score")],
    value: Annotated[str | None, typer.Option(help="Value (number or text)")] = None,
    previous: Annotated[str | None, typer.Option(help="Previous value")] = None,
    source: Annotated[str, typer.Option(help="Where it came from")] = "cli",
    reason: Annotated[str | None, typer.Option(help="Why, shown to the CSM")] = None,
    team: TeamOpt = None,
) -> None:
    """Store one signal; the worker evaluates it on its next tick."""
    from bot import clock
    from bot.signals.payload import PayloadError, parse_body
    from bot.signals.store import store

    rt = _rt()
    body = {
        "account": account,
        "signal": {"type": kind, "value": value, "previous_value": previous},
        "context": {"reason": reason} if reason else {},
    }
    try:
        parsed = parse_body(
            body, source=source, delivery_id=f"cli:{secrets.token_hex(8)}", now=clock.now()
        )
    except PayloadError as exc:
        from bot.clikit import fail

        raise fail(str(exc), 2) from None
    stored = store(rt.engine, _team(rt, team), parsed, auth="cli")
    typer.echo(f"Stored {stored.accepted} signal(s); {stored.duplicates} duplicate(s).")


@signal_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file of signals")],
    team: TeamOpt = None,
    source: Annotated[str, typer.Option(help="Source name for rows without one")] = "import",
) -> None:
    """Import signals in bulk (CSV: account,type,value,previous_value,source,occurred_at,
    idempotency_key,reason). Bad rows are reported with their number; the rest are stored."""
    from bot import clock
    from bot.clikit import fail
    from bot.signals.payload import PayloadError, parse_body
    from bot.signals.store import store

    rt = _rt()
    try:
        rows = _rows(file)
    except (OSError, ValueError, KeyError) as exc:
        raise fail(f"{file}: {exc}", 2) from None
    good, bad = [], 0
    stem = f"import:{file.name}:{secrets.token_hex(4)}"
    for n, row in enumerate(rows, start=1):
        try:
            good += parse_body(row, source=source, delivery_id=f"{stem}:{n}", now=clock.now())
        except PayloadError as exc:
            bad += 1
            typer.echo(f"{file.name}: row {n}: {exc}", err=True)
    stored = store(rt.engine, _team(rt, team), good, auth="import")
    typer.echo(
        f"Stored {stored.accepted} signal(s); {stored.duplicates} duplicate(s); {bad} bad row(s)."
    )
    if bad:
        raise typer.Exit(1)


@rules_app.command("validate")
def validate(
    folder: Annotated[Path | None, typer.Argument(help="Folder of rule files")] = None,
) -> None:
    """Check every rule file; print problems as file:line:column (exit 1 on any error)."""
    from bot.signals.rules import SEED_DIR, read_dir

    files, problems = read_dir(folder or SEED_DIR)
    for p in problems:
        typer.echo(str(p), err=p.is_error)
    errors = sum(p.is_error for p in problems)
    typer.echo(f"{len(files)} rule(s) valid, {errors} error(s)")
    if errors:
        raise typer.Exit(1)


@rules_app.command("load")
def load(
    folder: Annotated[Path | None, typer.Argument(help="Folder of rule files")] = None,
    team: TeamOpt = None,
) -> None:
    """Load rules now (the worker also re-reads SIGNAL_RULES_DIR when it changes)."""
    from bot.db import session_scope
    from bot.signals.ruleset import load_rules, rules_folder

    rt = _rt()
    team_id = _team(rt, team)
    with session_scope(rt.engine) as session:
        out = load_rules(
            session, team_id, folder or rules_folder(rt.settings), force=True, actor="cli"
        )
    for p in out.problems:
        typer.echo(str(p), err=True)
    typer.echo(
        f"{len(out.changed)} rule(s) changed"
        + ("; files with errors kept their old rules" if out.problems else "")
    )
    if any(p.is_error for p in out.problems):
        raise typer.Exit(1)


@signal_app.command("unmatched")
def unmatched(team: TeamOpt = None) -> None:
    """Account keys that signals named but no account has (map them with `signal map`)."""
    from bot.db import session_scope
    from bot.signals import service

    rt = _rt()
    with session_scope(rt.engine) as session:
        rows = service.unmatched(session, _team(rt, team), limit=200)
    for u in rows:
        typer.echo(
            f"{u.account_key}\t{u.signals} signal(s)\t{', '.join(u.sources)}"
            f"\tlast {u.last_at:%Y-%m-%d}"
        )
    if not rows:
        typer.echo("Every signal matched an account.")


@signal_app.command("map")
def map_(
    key: Annotated[str, typer.Argument(help="The account key as signals send it")],
    account: Annotated[str, typer.Argument(help="Our account: name, domain or CRM id")],
    team: TeamOpt = None,
) -> None:
    """Remember that KEY is ACCOUNT; its waiting signals are evaluated on the next tick."""
    from bot.clikit import fail
    from bot.db import session_scope
    from bot.signals import service
    from bot.signals.models import SignalError

    rt = _rt()
    try:
        with session_scope(rt.engine) as session:
            found, n = service.map_key(session, _team(rt, team), key, account, "cli")
    except SignalError as exc:
        raise fail(str(exc), 1) from None
    typer.echo(f"'{key}' is {found.name}; {n} waiting signal(s) will be evaluated.")


@signal_app.command("source")
def source(
    name: Annotated[str, typer.Argument(help="Source name, used in the URL: /signals/NAME")],
    adapter: Annotated[str, typer.Option(help="generic or zendesk")] = "generic",
    secret: Annotated[
        str | None, typer.Option(help="The vendor's signing secret (zendesk)")
    ] = None,
    token: Annotated[
        bool, typer.Option(help="Also accept ?token=… (weaker: for tools that cannot sign)")
    ] = False,
    team: TeamOpt = None,
) -> None:
    """Create or rotate a source: prints its URL and secret (shown once; keep it safe)."""
    from bot.clikit import fail
    from bot.db import session_scope
    from bot.signals.adapters import ADAPTERS
    from bot.signals.models import SignalError
    from bot.signals.store import add_source

    if adapter not in ADAPTERS:
        raise fail(f"--adapter must be one of {', '.join(ADAPTERS)}", 2)
    rt = _rt()
    key = secret or (new_whsec() if adapter == "generic" else None)
    if adapter == "zendesk" and not key:
        raise fail("--secret: paste the webhook's signing secret from Zendesk", 2)
    url_token = secrets.token_urlsafe(24) if token else None
    try:
        with session_scope(rt.engine) as session:
            add_source(
                session,
                _team(rt, team),
                name,
                adapter,
                secret=key,
                url_token=url_token,
                actor="cli",
            )
    except SignalError as exc:
        raise fail(str(exc), 1) from None
    typer.echo(f"POST https://<your host>/signals/{name}")
    if adapter == "generic":
        typer.echo(f"Standard Webhooks secret: {key}")
    if url_token:
        typer.echo(f"Weaker, for tools that cannot sign: /signals/{name}?token={url_token}")


def new_whsec() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def register(app: typer.Typer) -> None:
    app.add_typer(signal_app, name="signal")
