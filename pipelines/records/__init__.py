"""The typed records Needle keeps and passes between rooms: accounts, the audit log, audiences, retrieval
test cases, channel settings, escalations, background jobs, retrieval configurations, the change stamp,
and the answers and listings the core hands to its faces.

Each module owns one kind of record and its rules, kept in the record store (:mod:`pipelines.stores`).
May import the stores, the text helpers and the base; never the query or indexing sides, or above.
"""
