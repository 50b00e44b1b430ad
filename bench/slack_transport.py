"""CPU and time of one Web API call to the local Slack stand-in, by HTTP transport.

    python bench/slack_transport.py [--calls 2000]

`auth.test` posted back to back on one thread, after 50 warm-up calls, through: httpx (one
kept `Client`), urllib3 (a `PoolManager`), a kept `http.client` connection (what
`bot/slack/pooled.py` uses), slack_sdk's own urllib transport (a new connection per call)
and `PooledWebClient` itself (slack_sdk's request building on top). The stand-in runs in
this process, so each figure includes its side of the call; the stand-in's share is the
same for every row, so the differences are the transports'.
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv: list[str] | None = None) -> int:
    import httpx
    import urllib3

    from bot.devtools.standin import SlackStandin
    from bot.slack.pooled import PooledWebClient

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args(argv)
    n = args.calls
    with SlackStandin() as standin:
        team = standin.add_team("T0TRANSPORT", "Transport")
        url = standin.api_url + "auth.test"
        body = f"token={team.bot_token}".encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": f"Bearer {team.bot_token}",
        }
        parts = urlsplit(url)
        kept = http.client.HTTPConnection(parts.hostname or "", parts.port)

        def over_http_client() -> bytes:
            kept.request("POST", parts.path, body=body, headers=headers)
            return kept.getresponse().read()

        hx = httpx.Client()
        pool = urllib3.PoolManager(maxsize=4)
        client = PooledWebClient(token=team.bot_token, base_url=standin.api_url)
        rows: list[tuple[str, Callable[[], object]]] = [
            ("httpx.Client", lambda: hx.post(url, content=body, headers=headers).content),
            (
                "urllib3.PoolManager",
                lambda: pool.request("POST", url, body=body, headers=headers).data,
            ),
            ("http.client (kept)", over_http_client),
            (
                "urllib (new connection)",
                lambda: urllib.request.urlopen(
                    urllib.request.Request(url, data=body, headers=headers)
                ).read(),
            ),
            ("PooledWebClient.auth_test", client.auth_test),
        ]
        print(f"{n} calls each; CPU and wall per call, stand-in included")
        for name, call in rows:
            for _ in range(50):
                call()
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(n):
                call()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(f"  {name:28s} cpu {1e6 * cpu / n:6.0f} µs   wall {1e6 * wall / n:6.0f} µs")
        hx.close()
        kept.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
