"""Followthrough: commitments from customer calls and playbooks for accounts at risk, in Slack."""

__version__ = "0.1.0"
