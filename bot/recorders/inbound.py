"""Recorder webhooks (filled in below)."""

ROUTES: list = []
