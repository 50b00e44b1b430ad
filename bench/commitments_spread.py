"""How far apart two halves of the AMI set can score by chance: the noise floor of a split gap.

Usage: python bench/commitments_spread.py [--runs 2000] [--seed 1]

Scores the rules engine on each meeting of the *even* half only (the odd half stays untouched),
then (1) splits those meetings at random into two halves, and (2) draws two bootstrap samples of
18 meetings each, the size of an even/odd half, and prints the distribution of the F1 gap
|F1(a) - F1(b)| — to read the even/odd gap target (0.03) against.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import commitments_eval as ce  # noqa: E402


def f1(scores: list[ce.MeetingScore]) -> float:
    pred = sum(s.predicted for s in scores)
    gold = sum(s.gold for s in scores)
    matched = sum(s.matched for s in scores)
    p = matched / pred if pred else 0.0
    r = matched / gold if gold else 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def describe(name: str, gaps: list[float]) -> str:
    gaps = sorted(gaps)
    within = sum(g <= 0.03 for g in gaps) / len(gaps)
    return (
        f"{name}: median_gap={statistics.median(gaps):.3f} "
        f"p90_gap={gaps[int(0.9 * len(gaps))]:.3f} share_within_0.03={within:.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    meetings = ce.select_split(list(ce.load_meetings(ce.DEFAULT_DATA)), "even")
    scores = [
        ce.score_meeting(m, ce.predict("rules", ce.to_utterances(m), ce.call_context(m)))
        for m in meetings
    ]
    rnd = random.Random(args.seed)
    halves, boots = [], []
    for _ in range(args.runs):
        order = rnd.sample(scores, len(scores))
        half = len(order) // 2
        halves.append(abs(f1(order[:half]) - f1(order[half:])))
        a = [rnd.choice(scores) for _ in range(18)]
        b = [rnd.choice(scores) for _ in range(18)]
        boots.append(abs(f1(a) - f1(b)))
    print(f"even half: f1={f1(scores):.3f} meetings={len(scores)}")
    half = len(scores) // 2
    print(describe(f"random halves of the even half ({half} vs {len(scores) - half})", halves))
    print(describe("two bootstrap samples of 18 even meetings", boots))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
