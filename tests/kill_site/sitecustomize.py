"""Arms tests/kill_points.py in a process a fault-injection test starts (and only there)."""

import os

if os.environ.get("AAN_KILL_AT"):
    import kill_points

    kill_points.arm()
