"""The indexing side: a file in, checked, decoded, converted, cleaned, chunked, embedded and written as a
source; sources listed, changed and removed.

``pipeline`` builds the Haystack indexing pipeline; ``sources`` is what the service calls. May import the
records, the stores, the text helpers and the base; never the query side (the two sides meet only in the
service), the lab, the application or a face.
"""
