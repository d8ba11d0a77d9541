"""The ground floor: settings, errors a person can read, sizes, SQLite, disk faults, private files, model
locations, logging, metrics and stage timings.

Everything in Needle may import this package; it imports nothing of Needle's but itself. A rule that every
room needs (one unit for file sizes, one way to open SQLite) lives here, once.
"""
