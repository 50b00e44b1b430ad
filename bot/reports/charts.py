"""Charts as PNG bytes (matplotlib, Agg backend: no display needed). Each returns None when
there is nothing to draw — an empty period never produces an empty chart."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from bot.reports.metrics import Report  # noqa: E402

COLORS = {"on_time": "#2e7d32", "late": "#f9a825", "missed": "#c62828", "open": "#90a4ae"}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def resolution_by_step(report: Report) -> bytes | None:
    """Saved cases by the step that saved them, one bar group per playbook."""
    data = {k: v for k, v in report.resolution_steps.items() if sum(v.values())}
    if not data:
        return None
    max_step = max(max(steps) for steps in data.values())
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / len(data)
    for i, (playbook, steps) in enumerate(sorted(data.items())):
        xs = [s + i * width - 0.4 + width / 2 for s in range(1, max_step + 1)]
        ax.bar(xs, [steps.get(s, 0) for s in range(1, max_step + 1)], width, label=playbook)
    ax.set_xticks(range(1, max_step + 1))
    ax.set_xlabel("Step at which the account was saved")
    ax.set_ylabel("Cases saved")
    ax.set_title(f"Which steps save accounts ({report.period.label})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return _png(fig)


def commitments_over_time(report: Report) -> bytes | None:
    """Commitments made each week, stacked by what became of them."""
    if not report.weekly:
        return None
    weeks = list(report.weekly)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    bottom = [0] * len(weeks)
    labels = [w.strftime("%b %d") for w in weeks]
    for kind, label in (
        ("on_time", "kept on time"),
        ("late", "kept late"),
        ("missed", "missed"),
        ("open", "still open"),
    ):
        values = [getattr(report.weekly[w], kind) for w in weeks]
        ax.bar(labels, values, bottom=bottom, color=COLORS[kind], label=label)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_ylim(0, max(bottom) * 1.1 + 1)
    ax.set_xlabel("Week the commitment was made")
    ax.set_ylabel("Commitments")
    ax.set_title(f"Commitments kept over time ({report.period.label})")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    if len(weeks) > 8:
        plt.setp(ax.get_xticklabels(), rotation=45, ha="right")
    return _png(fig)


def signals_funnel(report: Report) -> bytes | None:
    """Per rule: what its suggestions became — which signals predict churn, which are noise."""
    f = report.signals
    rows = list(f.rows) if f is not None else []
    if not rows:
        return None
    rows = rows[:12][::-1]
    labels = [r.rule[:40] for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.8))
    left = [0] * len(rows)
    for attr, label, color in (
        ("dismissed", "dismissed (noise)", "#90a4ae"),
        ("waiting", "waiting", "#cfd8dc"),
        ("open_cases", "case open", "#1e88e5"),
        ("saved", "saved", COLORS["on_time"]),
        ("churned", "churned", COLORS["missed"]),
    ):
        if attr == "open_cases":
            values = [r.cases - r.saved - r.churned for r in rows]
        else:
            values = [getattr(r, attr) for r in rows]
        ax.barh(labels, values, left=left, color=color, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_xlabel("Suggested cases")
    ax.set_title(f"Signals → suggestions → outcomes ({report.period.label})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


def all_charts(report: Report) -> list[tuple[str, str, bytes]]:
    """(filename, title, png) for every chart that has something to show."""
    out = []
    for name, title, fn in (
        ("resolution-by-step.png", "Resolution by step", resolution_by_step),
        ("commitments-kept.png", "Commitments kept over time", commitments_over_time),
        ("signals-funnel.png", "Signals to outcomes", signals_funnel),
    ):
        png = fn(report)
        if png:
            out.append((name, title, png))
    return out
