"""Redaction: policies, redacted text and redacted PDFs (the redact stage's worker code)."""
