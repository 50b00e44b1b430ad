"""Pure Block Kit builder for App Home: a person's open items (same controls as the digest),
the cases they own and, for CS admins, the team's open cases by risk. ≤ 100 blocks always:
each part has a budget and says what it left out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.cases.blocks import when
from bot.crm.service import Health
from bot.digest.blocks import Item, digest_summary, grouped_blocks
from bot.slack.blocks.common import clip, context, divider, escape, header, section

VIEW_MAX = 100
ITEMS_BUDGET = 62
OWNED_BUDGET = 12
TEAM_BUDGET = 18


@dataclass(frozen=True)
class CaseLine:
    id: int
    account: str
    risk: str
    status: str
    step: int
    total: int
    owner: str | None = None

    def text(self, with_owner: bool = False) -> str:
        progress = f"step {self.step} of {self.total}" if self.total else "planning"
        owner = f" · <@{self.owner}>" if with_owner and self.owner else ""
        return (
            f"*{escape(self.account)}* — {escape(self.risk)} · case #{self.id} · "
            f"{self.status.replace('_', ' ')} · {progress}{owner}"
        )


def _case_list(lines: list[CaseLine], budget: int, with_owner: bool) -> list[dict[str, Any]]:
    blocks = [section(line.text(with_owner)) for line in lines[: budget - 1]]
    if len(lines) > budget - 1:
        blocks.append(context(f"…and {len(lines) - (budget - 1)} more cases not shown."))
    return blocks


def crm_blocks(h: Health) -> list[dict[str, Any]]:
    """CS admins: is the CRM connection healthy? (last sync, errors, writes waiting)"""
    ok = h.status in {"ok", "syncing", "new"} and not h.writes_failed
    last = when(h.last_success_at) if h.last_success_at else "never"
    line = (
        f"{':white_check_mark:' if ok else ':warning:'} *{h.label}* · {h.status.replace('_', ' ')}"
        f" · last good sync {last} · {h.counts.get('companies', 0):,} companies,"
        f" {h.counts.get('contacts', 0):,} contacts in the last run"
    )
    blocks = [header("CRM connection"), section(line)]
    notes = []
    if h.last_error:
        notes.append(f"Last error {when(h.last_error_at)}: {escape(clip(h.last_error, 300))}")
    if h.warnings:
        notes.append(f"{h.warnings} data warnings (`followthrough crm status` lists them)")
    if h.writes_waiting or h.writes_failed:
        notes.append(f"{h.writes_waiting} writes waiting, {h.writes_failed} failed (CSMs told)")
    if notes:
        blocks.append(context(*notes[:3]))
    return blocks


def home_view(
    items: list[Item],
    owned: list[CaseLine],
    team: dict[str, list[CaseLine]] | None,
    today: dt.date,
    crm: Health | None = None,
) -> dict[str, Any]:
    """The Home tab. `team` (and `crm`) are None for people who are not CS admins."""
    blocks: list[dict[str, Any]] = [header("Your follow-through")]
    if items:
        blocks.append(context(digest_summary(items, today)))
        body, _ = grouped_blocks(
            items, today, ITEMS_BUDGET, "Mark some done or use `/commitments` to see the rest."
        )
        blocks += body
    else:
        blocks.append(section(":sparkles: Nothing open — every commitment and step is done."))
    blocks += [divider(), header("Cases you own")]
    blocks += (
        _case_list(owned, OWNED_BUDGET, False)
        if owned
        else [context("No open cases. `/report-risk` starts one.")]
    )
    if team is not None:
        blocks += [divider(), header("Team's open cases by risk")]
        if not team:
            blocks.append(context("No open cases on the team."))
        budget = TEAM_BUDGET
        for risk, lines in sorted(team.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            if budget < 3:
                blocks.append(context("…more risks not shown; `/cs-report` has the totals."))
                break
            blocks.append(section(f"*{escape(risk)}* ({len(lines)})"))
            part = _case_list(lines, min(budget - 1, 6), True)
            blocks += part
            budget -= 1 + len(part)
    if crm is not None:
        blocks += [divider(), *crm_blocks(crm)]
    blocks.append(
        context("Digest hour and on/off: `/commitments settings` · Reports: `/cs-report`")
    )
    if len(blocks) > VIEW_MAX:  # budgets above make this unreachable; keep the promise anyway
        blocks = blocks[: VIEW_MAX - 1] + [context("…cut to fit the Home tab.")]
    return {"type": "home", "blocks": blocks}
