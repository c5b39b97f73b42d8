"""bench/live: a package only so that mypy tells its run.py from bench/auth/run.py."""
