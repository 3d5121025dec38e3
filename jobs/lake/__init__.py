"""The lake: a directory of Delta tables. Reading and writing them (``tables``), the
``deltars`` data source over delta-rs (``delta``), views and SQL over them (``views``,
``sql``) and their upkeep (``maintain``)."""
