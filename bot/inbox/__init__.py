"""The inbox: a click that changes something is written down before Slack hears back, and
carried out by a worker.

    web process:  signature → parse → INSERT inbound_action (+ NOTIFY) → 200
    worker:       claim (lease, token) → the route's handler, as if Bolt had called it → done

So an ack costs one INSERT, not the change it asks for — the request thread and the web
process's CPU stay free for the next ack — and a web process that dies after answering
Slack loses no click. A worker that dies mid-way leaves its claim to expire; the next one
carries the click out again, and the handler's own guard (a step decided once, an answer
given once) makes that safe: a refusal on such a second try is not told to anyone, since
the first try most likely did what was asked. Where no worker listens (SQLite, one process)
the web process carries its clicks out itself, off the request, the same way.
"""
