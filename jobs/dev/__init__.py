"""Development aids: the sample contract PDFs and their gold entities (``samples``)."""
