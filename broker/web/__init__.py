"""Resident-facing pages: templates, the page catalogue and error handlers."""
