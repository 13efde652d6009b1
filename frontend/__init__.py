"""Régie's HTMX frontend: pages for viewers and moderators, built on the public API only."""
