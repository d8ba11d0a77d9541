"""The query side: a question in, BM25 and dense retrieval fused, optionally reranked, judged answerable or
not, answered by the LLM or a quoted extract, with citations and a recorded trace out.

``pipeline`` builds the Haystack query pipeline; ``answering`` runs it for one question; ``llm`` owns the
configured chat generator. May import the records, the stores, the text helpers and the base; never the
indexing side, the lab, the application or a face.
"""
