"""Data quality: each stage's rows audited against Great Expectations suites before they
are published (``audit``), and the lake's tables checked against each other after a run
(``validate``)."""
