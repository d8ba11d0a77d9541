"""The knowledge loop: what employees ask that the documents cannot answer (gaps), answers experts have
verified, sources past their review date (freshness), and how Needle is used.

May import the query and indexing sides, the records, the stores, the text helpers and the base; never the
connectors (a sibling), the lab, the service, the application or a face.
"""
