"""The retrieval lab: why a source was (not) retrieved, the live configuration against a candidate,
retrieval evaluation on BEIR datasets and answer-quality evaluation.

Tools for the people who tune Needle; they run the real service. May import the service and everything
below it; never the application's entry points (``app``, ``cli``) or a face.
"""
