"""Running actions at the same moment in threads, each with its own database connection."""

from __future__ import annotations

import threading

from django.db import connection


def at_once(*actions):
    """Run the callables in threads started together; their results or errors, in order."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(i, action):
        try:
            barrier.wait()
            results[i] = action()
        except Exception as exc:  # noqa: BLE001 - the test reads which one was refused
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results
