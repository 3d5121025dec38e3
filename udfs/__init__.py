"""What Spark's Python workers run: PDF reading, OCR, cleaning, NER (no Spark imports).

A worker imports this package when it unpickles any UDF of docner's, so the per-process
set-up runs here; code that runs in a worker without a UDF of this package (the ``deltars``
write tasks) calls :func:`udfs.worker.prepare_worker` itself."""

from udfs.worker import prepare_worker

prepare_worker()
