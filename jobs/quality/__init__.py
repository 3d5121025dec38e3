"""Data quality: each stage's rows audited against Great Expectations suites before they
are published (``audit``), the stored validation results read back (``results``), and the
lake's tables checked against each other after a run (``validate``)."""
