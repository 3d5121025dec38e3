"""Named entities in the Python workers: every configured backend over whole documents
(``recognize``), the candidates they return (``entities``), merged (``merge``) and
normalised (``normalize``); the backends themselves are in ``backends``."""
