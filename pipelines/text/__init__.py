"""Language-neutral text helpers: sentences, words, headings, BM25 analysis, decoding files in any
encoding, and sentence vectors.

Pure functions over strings (and one small embedding cache); no store, no pipeline, no settings. May import
only :mod:`pipelines.base`.
"""
