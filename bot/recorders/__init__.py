"""Transcripts that arrive by themselves: Zoom's webhook and a generic signed endpoint, the
download, matching the call to an account, and the hand-over to the capture pipeline."""
