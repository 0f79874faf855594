"""The portal's settings for the workers of the fleet benchmark (bench/fleet.py).

Everything is ``portal.settings`` read from the environment, as in production; only the key
prefix of the fleet-wide limits is the run's own, so that a run shares its limits with no
other portal or test using the same Redis, and its keys can be deleted afterwards.
"""

import os

from portal.settings import *  # noqa: F403

PROVISIONING_LIMITS_PREFIX = os.environ["BENCH_LIMITS_PREFIX"]
