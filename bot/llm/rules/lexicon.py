"""Word lists behind the cues: what promising sounds like, and what only looks like it.

Kept apart from the logic so they can be reviewed (and extended) as plain data.
"""

from __future__ import annotations

# Verbs of doing a task for someone. Weight: how strongly "<subject> will <verb>" is a promise.
TASK_VERBS: dict[str, float] = {
    **dict.fromkeys(
        "send share email e-mail forward loop schedule book prepare draft write finish complete "
        "submit deliver provide confirm sign file escalate raise ping text message introduce "
        "connect coordinate arrange organise organize upload post compile summarise summarize "
        "document investigate research fix resolve unblock install configure enable migrate "
        "integrate deploy provision grant reset refund credit extend renew approve process "
        "order purchase invoice quote negotiate verify validate audit double-check update "
        "follow circle reach contact call get put set build create design redesign review check "
        "find figure test evaluate explore gather collect present bring run pull push open add "
        "remove change adjust modify improve train onboard implement launch release ship "
        "handle sort chase nudge clarify dig roll kick".split(),
        1.0,
    ),
    **dict.fromkeys("work look ask talk speak meet sync touch take give make".split(), 0.8),
    **dict.fromkeys("focus come do watch receive".split(), 0.6),
    **dict.fromkeys("think consider decide try keep start go play discuss".split(), 0.3),
    **dict.fromkeys("issue rerun pull grab dig".split(), 1.0),
}

# "<subject> will <verb> …" that is talk about the call itself, an opinion or a requirement.
META_VERBS = frozenset(
    "say see tell show hand pass move continue skip stop wait leave admit mention repeat explain "
    "guess wonder bet need want like love hate have use remember sit hear listen read note "
    "assume suppose imagine argue agree disagree vote pick choose start begin jump recap "
    "let go be".split()
)

# Continuations that turn a META verb back into a task ("let you know", "talk to Legal").
META_EXCEPTIONS: dict[str, tuple[str, ...]] = {
    "let": ("you know", "them know", "him know", "her know", "everyone know", "us know"),
    "talk": ("to", "with"),
    "have": (
        "it ready",
        "that ready",
        "them ready",
        "something ready",
        "a draft",
        "an answer",
        "a look",
        "a detailed look",
        "a quote",
        "a proposal",
    ),
    "see": ("if", "whether", "about", "what we can do"),
    "show": ("the team", "your team", "them", "their team"),
    "hand": ("off the", "over the"),
    "start": ("working", "on the", "the pilot", "the rollout", "the migration", "the trial"),
    "go": ("back to our", "ahead and", "off and do"),
    "be": (
        "there",
        "on the call",
        "on the",
        "at the",
        "working",
        "looking",
        "thinking",
        "doing",
        "sending",
        "sharing",
        "preparing",
        "focusing",
        "focused",
        "responsible",
        "in charge",
        "on point",
        "evaluating",
        "beginning",
        "building",
        "writing",
        "reaching",
        "following",
        "setting",
        "handling",
        "researching",
        "designing",
        "checking",
        "keeping busy",
        "taking",
        "coordinating",
        "getting",
        "putting",
        "making",
        "creating",
        "finishing",
        "scheduling",
    ),
}

# Idioms of undertaking whose verb alone says little ("keep", "make", "jump").
IDIOMS: dict[str, float] = {
    "make sure": 1.0,
    "keep an eye on": 1.0,
    "keep you posted": 1.0,
    "keep you updated": 1.0,
    "keep you in the loop": 1.0,
    "jump on a call": 0.9,
    "jump on a screen share": 1.0,
    "hop on a call": 0.9,
    "take care of": 1.0,
    "take a look": 0.9,
}

# Meta phrases right after "I'll"/"I'm going to" that are talk, not tasks.
META_PHRASES: tuple[str, ...] = (
    "be honest",
    "be brief",
    "be quick",
    "be right back",
    "be back",
    "just say",
    "say",
    "start with",
    "start off",
    "kick off",
    "kick things off",
    "hand it over",
    "hand over",
    "hand you over",
    "pass it over",
    "pass it to",
    "pass you",
    "turn it over",
    "go through",
    "go over",
    "walk you through",
    "walk through",
    "share my screen",
    "share screen",
    "share the screen",
    "stop sharing",
    "show you",
    "tell you",
    "talk about",
    "talk through",
    "take notes",
    "take a note",
    "take the minutes",
    "take minutes",
    "meet again",
    "reconvene",
    "finish up with",
    "give it a",
    "rate it",
    "take a quick",
    "let you go",
    "let you",
    "let him go",
    "let her go",
    "be quiet",
    "mute",
    "unmute",
    "jump in",
    "jump off",
    "drop off",
    "hop off",
    "see you",
    "leave it there",
    "leave you",
    "wrap up",
    "wrap this up",
    "stop there",
    "stop you",
    "move on",
    "repeat",
    "read out",
    "read it",
    "get started",
    "get going",
    "get back to you on",
)

# Marks given in the meeting ("I'll give a six for ease of use"): an evaluation, not a task.
META_PHRASES = META_PHRASES + tuple(
    f"give {article} {n}"
    for article in ("a", "an", "it a", "it an", "them a")
    for n in "one two three four five six seven eight nine ten 1 2 3 4 5 6 7 8 9 10".split()
)

# Hedges before the cue: an opinion about the future, not a promise.
HEDGES = (
    "i think",
    "i guess",
    "i suppose",
    "i believe",
    "i imagine",
    "i assume",
    "i'm sure",
    "i don't know",
    "i dunno",
    "probably",
    "maybe",
    "perhaps",
    "might",
    "hopefully",
    "i hope",
    "i'm not sure",
    "i reckon",
    "i feel like",
    "i'd say",
)

# Openers before the cue that make it a condition or a reported promise.
CONDITIONS = ("if", "unless", "whether", "once", "assuming", "suppose", "supposing", "say")
# Openers of a supposition, not of a real condition: the promise under them is not made.
HYPOTHETICAL = ("whether", "assuming", "suppose", "supposing", "say", "unless")
EMBEDDING = (
    "all",
    "what",
    "how",
    "when",
    "whenever",
    "where",
    "which",
    "much",
    "many",
    "why",
    "whether",
    "because",
    "cause",
    "since",
    "than",
    "that",
    "do",
    "does",
    "did",
    "thank",
)
REPORTED = ("said", "told", "thought", "promised", "asked", "mentioned", "was", "were", "would've")

# Group addressees: a task handed to several people has no single owner.
GROUP_SUBJECTS = (
    "you guys",
    "you two",
    "you all",
    "y'all",
    "you both",
    "both of you",
    "the two of you",
    "all of you",
    "everyone",
    "everybody",
    "each of you",
    "you three",
    "the three of you",
)

# Around the end of a call: the segment where next steps are handed out.
WRAP_UP_MARKERS = (
    "next meeting",
    "next call",
    "next session",
    "next time",
    "next steps",
    "next step",
    "action item",
    "action items",
    "to-do",
    "to do list",
    "homework",
    "follow-ups",
    "follow ups",
    "in the meantime",
    "between now and",
    "before we wrap",
    "wrap up",
    "wrapping up",
    "to recap",
    "recap",
    "to summarise",
    "to summarize",
    "before we hang up",
    "before we go",
    "before the next",
    "individual actions",
    "assignments",
    "takeaways",
    "for next week",
    "until next",
    "see you next",
    "see you in",
    "meeting again",
    "meet again",
    "reconvene",
    # handing out the work
    "allocate",
    "who does what",
    "divide up",
    "split up the",
    "responsibilities",
    "your task",
    "your job",
)

GENERIC_LABEL_WORDS = frozenset(
    "speaker user project customer client team guest unknown host participant member the "
    "caller agent person".split()
)

PRONOUNS_THIRD = {"my": "their", "mine": "theirs", "myself": "themselves", "i": "they"}
