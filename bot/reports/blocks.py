"""Pure Block Kit builder for `/cs-report` (one DM, ≤ 50 blocks)."""

from __future__ import annotations

from typing import Any

from bot.reports.metrics import Report, Tally, pct
from bot.slack.blocks.common import context, divider, escape, header, limit_blocks, section


def _tally(name: str, t: Tally) -> str:
    return (
        f"*{escape(name)}* — made {t.made} · on time {t.on_time} · late {t.late} · "
        f"missed {t.missed} · open {t.open}"
    )


def _top(groups: dict[str, Tally], n: int = 10) -> list[str]:
    ranked = sorted(groups.items(), key=lambda kv: (-kv[1].made, kv[0]))
    lines = [_tally(k, v) for k, v in ranked[:n]]
    if len(ranked) > n:
        lines.append(f"…and {len(ranked) - n} more (see `followthrough report --csv`)")
    return lines


def report_message(r: Report) -> tuple[str, list[dict[str, Any]]]:
    title = f"CS report · {r.period.label}"
    if r.empty:
        text = (
            f"Nothing in this period ({r.period.label}): no cases were opened and no "
            "commitments were made."
        )
        return text, [header(title), section(text)]
    days = f"{r.median_days_to_resolve:.1f} days" if r.median_days_to_resolve is not None else "—"
    blocks = [
        header(title),
        section(
            f"*Cases opened:* {len(r.cases)}  ·  saved {r.saved}  ·  churned {r.churned}"
            f"  ·  still open {r.still_open}",
            fields=[
                f"*Resolution rate*\n{pct(r.resolution_rate)}",
                f"*Churn rate*\n{pct(r.churn_rate)}",
                f"*Median time to resolve*\n{days}",
            ],
        ),
    ]
    if r.by_risk:
        blocks.append(
            section(
                "*By risk*\n"
                + "\n".join(f"• {escape(k)}: {v}" for k, v in r.by_risk.most_common(15))
            )
        )
        blocks.append(
            section(
                "*By playbook*\n"
                + "\n".join(f"• {escape(k)}: {v}" for k, v in r.by_playbook.most_common(15))
            )
        )
    if r.resolution_steps:
        blocks.append(
            section(
                "*Step at which cases were saved*\n"
                + "\n".join(
                    f"• {escape(p)}: " + ", ".join(f"step {s} × {n}" for s, n in sorted(c.items()))
                    for p, c in sorted(r.resolution_steps.items())
                )
            )
        )
    t = r.commitments
    blocks += [
        divider(),
        section(
            f"*Commitments made:* {t.made}  ·  kept on time {t.on_time}  ·  kept late {t.late}  ·  "
            f"missed {t.missed}  ·  still open {t.open}  (kept on time: {pct(t.kept_rate)})"
        ),
    ]
    if r.by_owner:
        blocks.append(section("*By owner*\n" + "\n".join(_top(r.by_owner))))
    if r.by_account:
        blocks.append(section("*By account*\n" + "\n".join(_top(r.by_account))))
    blocks += signal_blocks(r)
    blocks.append(
        context(
            "A case counts in the period it was opened; a commitment in the "
            "period it was made. Charts follow in the thread."
        )
    )
    summary = (
        f"CS report {r.period.label}: {len(r.cases)} cases, resolution "
        f"{pct(r.resolution_rate)}, {t.made} commitments ({t.on_time} kept on time)"
    )
    return summary, limit_blocks(blocks, 50)


def upload_failed_note(problems: list[str]) -> str:
    return (
        "The charts could not be posted (Slack refused the upload: "
        + "; ".join(problems)[:500]
        + "). The numbers above are complete."
    )


def signal_blocks(r: Report) -> list[dict[str, Any]]:
    """Signals → suggestions → cases → outcomes per rule; keys waiting to be mapped; rule
    files with errors (their old rules stay in force)."""
    f = r.signals
    if f is None or not (f.signals or f.rows or f.rule_problems):
        return []
    out = [
        divider(),
        section(
            f"*Signals:* {f.signals} received ({f.unmatched} for unknown accounts)  ·  "
            f"{f.suggestions} suggested case(s)  ·  {f.cases} started"
        ),
    ]
    if f.rows:
        out.append(
            section(
                "*By rule* — suggested → dismissed / waiting / case → saved / churned\n"
                + "\n".join(
                    f"• {escape(x.rule)}: {x.suggestions} → {x.dismissed} dismissed, "
                    f"{x.waiting} waiting, {x.cases} case(s) → {x.saved} saved, "
                    f"{x.churned} churned ({x.signals} signals)"
                    for x in f.rows[:12]
                )
            )
        )
    if f.unmatched_keys:
        out.append(
            section(
                "*Signals for accounts I don't know* "
                "(map with `followthrough signal map KEY ACCOUNT`)\n"
                + "\n".join(
                    f"• `{escape(u.account_key)}`: {u.signals} from {escape(', '.join(u.sources))}"
                    for u in f.unmatched_keys[:8]
                )
            )
        )
    if f.rule_problems:
        out.append(
            section(
                ":warning: *Rule files with errors* (the rules in force before stay in force)\n"
                + "\n".join(f"• `{escape(p)}`" for p in f.rule_problems[:8])
            )
        )
    return out
