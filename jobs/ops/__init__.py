"""Running docner in production: progress and logs (``progress``), Prometheus metrics
(``metrics``), the search export (``export_search``) and the HTML report (``report``)."""
