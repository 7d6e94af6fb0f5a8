"""Shared test support: databases and templates, real servers, the trained ranker."""
