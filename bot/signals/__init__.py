"""Signals in: health scores, support desks and what the app already knows become suggested
cases for the account's CSM (inbound API, adapters, rules, suggestions)."""
