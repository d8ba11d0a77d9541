"""Connectors: documents synced from where they live (web sites, file shares, Slack, Confluence, Drive,
Notion), incrementally, with their permissions.

Owns the connector interface (:mod:`pipelines.connectors.base`), the connectors themselves (one small
module each) and the sync engine that turns a connector's listing into sources. A connector only lists
and fetches; it never touches a store. May import the indexing side, the records and the layers below
them; never the query side, the lab, the application or a face.
"""
