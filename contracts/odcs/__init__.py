"""Import Open Data Contract Standard (ODCS) v3 documents as driftgate contracts.

The entry point is `importer.import_odcs`; each other module maps one concern of the document:
`envelope` (id, version, owner, description, dataset), `fields` (properties and their type
options), `quality` (library quality rules), `sla` (latency and frequency as freshness).
"""
