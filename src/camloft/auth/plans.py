"""A new user's plan, by default: how many days of video it keeps, how many devices it has.

Apart from `auth/admin.py` so that the command line reads them without importing the store.
"""

DEFAULT_MAX_AGE_DAYS = 7
DEFAULT_MAX_DEVICES = 100
