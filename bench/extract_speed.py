"""Time the rules engine on a realistic 90-minute customer call.

Usage: python bench/extract_speed.py [--runs 7] [--seed 7] [--turns 1200] [--once]

The call is generated deterministically from the seed: small talk, product questions, status
updates, risks and, now and then, promises with and without due dates, spoken with fillers and
restarts like real speech (~13,000 words in ~1,200 turns). Prints min/median/max seconds of
`RulesEngine.extract`; the target is well under 2 s. `--once` runs one extraction and prints the
number found (for timing the whole process from outside).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.llm.base import CallContext  # noqa: E402
from bot.llm.rules import RulesEngine  # noqa: E402
from bot.transcripts.model import Utterance  # noqa: E402

TARGET_SECONDS = 2.0  # a 90-minute call, on one core
OURS = ["Priya Shah", "Tom Becker"]
THEIRS = ["Dana Lee", "Marco Ruiz", "Aisha Khan"]
THINGS = [
    "the SSO setup guide",
    "the renewal quote",
    "the API rate-limit docs",
    "the QBR deck",
    "the onboarding checklist",
    "the SCIM provisioning notes",
    "the export bug report",
    "the usage dashboard",
    "the security questionnaire",
    "the training recordings",
    "the migration runbook",
    "the pricing for the extra seats",
    "the admin token rotation plan",
]
WHEN = [
    "by Friday",
    "tomorrow",
    "by end of next week",
    "before the QBR on the 14th",
    "this week",
    "by December 3",
    "in two weeks",
    "next Tuesday",
    "by EOD",
    "in Q1",
    "",
]
PEOPLE = ["your IT lead", "our solutions engineer", "legal", "procurement", "the support team"]
SMALL_TALK = [
    "How was the long weekend, did you get out of town at all?",
    "Um, yeah, it was good, we went up to the lake with the kids.",
    "Sorry, I think you're on mute.",
    "Can everyone see my screen okay?",
    "Yeah, I can see it now.",
    "Oh nice, the weather has been, uh, pretty rough here honestly.",
    "Okay, so, um, let's get going.",
    "Right, right, that makes sense.",
    "Mm-hmm.",
    "Yeah, totally.",
]
DISCUSSION = [
    "So the, uh, the adoption numbers went up about {n} percent last month, which is great.",
    "We've had some issues with {thing}, it's been a bit of a concern for the team.",
    "I think the main risk is that the rollout slips past the renewal date.",
    "The support team uses the dashboards every day now, um, mostly for escalations.",
    "Last quarter we onboarded {n} new seats and most of them are active.",
    "Honestly the SAML piece has been the hardest part, our Okta admin was out for a while.",
    "Did you get a chance to look at {thing}?",
    "What does the timeline look like for the go-live on your side?",
    "If we miss the date, we'll probably push the launch, but let's see.",
    "I'll be honest, the export has been flaky for a couple of weeks.",
    "I think we'll need more licences eventually, but not this year.",
    "We were going to migrate in March but the budget got frozen.",
]
PROMISES = [
    "I'll send over {thing} {when}.",
    "Let me get you {thing} {when}.",
    "We'll have procurement sign off {when}.",
    "Can you loop in {person} {when}?",
    "I'm going to escalate {thing} to our engineering team {when}.",
    "Okay, um, I'll I'll follow up with a recap email and {thing}.",
    "Could you share {thing} with us {when}?",
    "We're going to roll out the training to {person} {when}.",
    "So for next steps, I will set up a working session with {person} {when}.",
    "Yeah, I can send {thing} {when}, no problem.",
]


def build_call(seed: int, turns: int) -> list[Utterance]:
    """A deterministic, plausible 90-minute customer call."""
    rng = random.Random(seed)
    speakers = OURS + THEIRS
    out: list[Utterance] = []
    clock = 0.0
    for _ in range(turns):
        roll = rng.random()
        pool = PROMISES if roll < 0.08 else SMALL_TALK if roll < 0.52 else DISCUSSION
        text = (
            rng.choice(pool)
            .format(
                thing=rng.choice(THINGS),
                when=rng.choice(WHEN),
                person=rng.choice(PEOPLE),
                n=rng.randint(5, 40),
            )
            .replace(" .", ".")
            .replace(" ?", "?")
        )
        if pool is not SMALL_TALK and rng.random() < 0.06:
            text += " " + rng.choice(DISCUSSION).format(
                thing=rng.choice(THINGS), n=rng.randint(5, 40)
            )
        out.append(Utterance(rng.choice(speakers), text, round(clock, 1)))
        clock += 5400 / turns
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--turns", type=int, default=1200)
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args(argv)
    call = build_call(args.seed, args.turns)
    context = CallContext(
        call_date=dt.date(2025, 11, 3),
        our_speakers=OURS,
        customer_speakers=THEIRS,
        account_name="Acme",
    )
    engine = RulesEngine()
    if args.once:
        print(f"commitments={len(engine.extract(call, context).commitments)}")
        return 0
    words = sum(len(u.text.split()) for u in call)
    times = []
    found = 0
    for _ in range(args.runs):
        start = time.perf_counter()
        found = len(engine.extract(call, context).commitments)
        times.append(time.perf_counter() - start)
    print(f"utterances={len(call)} words={words} commitments={found} runs={args.runs}")
    median = statistics.median(times)
    print(
        f"extract_seconds min={min(times):.3f} median={median:.3f} "
        f"max={max(times):.3f} target=2.0 met={median < TARGET_SECONDS}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
