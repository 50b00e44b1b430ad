"""Pure Block Kit builders: data in, dicts out, every Slack limit respected here."""
