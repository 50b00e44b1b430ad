"""The transactional outbox: every message the app sends on its own (not as the direct answer
to a click) is a row first, written with the change that causes it, and sent exactly once.

    enqueue / enqueue_update  (in the caller's transaction)  →  outbound_message: pending
    sender (any worker):  claim (lease, token) → fence → post with metadata → settle: sent
                          + the kind's on_sent hook, in the settle's transaction

Slack has no idempotency key, so the row's `key` travels as Slack message metadata. A post
whose outcome is unknown (the worker died, the connection dropped, Slack said 5xx) leaves
`maybe_sent` set; whoever claims the row next first looks for the key in the channel's recent
history and adopts the message it finds instead of posting again. A worker re-checks its
claim (and renews the lease) right before each post and only posts while the remaining lease
covers the HTTP timeout, so by the time a lease expires its post has either landed or failed.
A late settle that finds its token taken changes nothing; if its post turns out to be a
second copy, it deletes that copy instead of telling anyone anything.
"""
