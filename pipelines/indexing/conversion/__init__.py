"""Pure text helpers that repair what file conversion loses: table structure, page furniture, dates.

They work on strings and bytes, not on Haystack documents, so each rule can be tested on its own; the
components in :mod:`pipelines.querying.components` apply them inside the indexing pipeline.
"""
