"""Playbook templates: what to do, step by step, when an account is at risk.

Modules: `schema` (the models), `parse` (YAML → template with line-precise problems),
`checks` (cross-step rules), `durations` ("1d12h"), `placeholders` (the facts a message may
use), `render` (filling and checking text), `plan` (a template drafted for one account).
The seed templates live in `prompts/playbooks/`.
"""

from bot.playbooks.parse import PlaybookError, Problem, check_playbook, parse_playbook, validate_dir
from bot.playbooks.schema import PlaybookTemplate, StepTemplate

__all__ = [
    "PlaybookError",
    "PlaybookTemplate",
    "Problem",
    "StepTemplate",
    "check_playbook",
    "parse_playbook",
    "validate_dir",
]
