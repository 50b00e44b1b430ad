"""Signals in: health scores, support desks and what the app already knows become suggested
cases for the account's CSM (inbound API, adapters, rules, suggestions).

Imports run one way: `evaluate` uses `store`, `ruleset` and `suggestions`; `decisions` uses
`suggestions`; `service` (unknown accounts, the funnel) uses `ruleset`; never back."""
