"""The app's waitress server on a thread, for the demo and tests: started on a free port and
stopped without the serving thread tripping over its own closed sockets."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


class ServerThread:
    """`server.run()` on a daemon thread. `close()` closes the server's sockets while its
    loop may be inside select(): the loop then fails with EBADF, which is the expected way
    for it to end, not an error."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="ft-http")
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):
            if not self._closing.is_set():
                raise

    def close(self) -> None:
        self._closing.set()
        with contextlib.suppress(OSError):
            self.server.close()
        self._thread.join(timeout=5)
