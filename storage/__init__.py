"""Persistence: the SQLAlchemy database, the content-addressed file store, the audit trail."""
