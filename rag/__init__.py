"""Handbook ingestion and retrieval (parse -> chunk -> embed -> index). Arrives with the handbook issue."""
