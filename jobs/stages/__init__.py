"""The pipeline's per-document stages: ingest, extract, ner, fields (one module each), what they
share (``base``: the stage context, write-audit-publish, document selection), their
versions (``versions``) and their rows in ``runs`` (``runs``)."""
