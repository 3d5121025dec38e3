"""What Spark's Python workers run: PDF reading, OCR, cleaning, NER (no Spark imports)."""

import os

from udfs.worker import freeze_archive_finders

if os.environ.get("SPARK_REUSE_WORKER"):  # inside a reused Spark Python worker
    freeze_archive_finders()
