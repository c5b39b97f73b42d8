"""Persistence: metadata in SQL (SQLite or PostgreSQL through SQLAlchemy 2).

Roles reach their data only through the store classes here, never through
each other's tables.
"""
