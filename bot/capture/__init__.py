"""Commitment capture: a call transcript shared in Slack becomes reviewed, tracked commitments.

ingest.py        one durable Transcript row per upload (Slack retries find it again)
extract.py       the worker: claim → fetch → parse → engine → proposals → review thread
context.py       who was on the call (our people vs the customer's) and which account
review.py        Confirm / Edit / Dismiss / Done / pickers, answered with messages to refresh
review_blocks.py pure Block Kit for all of the above
listing.py       `/commitments` filters
scheduled.py     DUE_JOBS: queued uploads and expired leases
cli.py           `followthrough extract FILE`
"""
