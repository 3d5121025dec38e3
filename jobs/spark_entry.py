"""The application file for ``spark-submit``: the ``docner`` command line under a Spark launcher.

    spark-submit [spark options] jobs/spark_entry.py run --input DIR --lake DIR --env cluster

``spark-submit`` needs a Python *file* to run; this one hands its arguments to
:func:`jobs.cli.main`, so every ``docner`` command works the same under it. The
SparkSession the stages build joins the one spark-submit configured (master, resources,
``--archives``), and settings left unset in the docner configuration stay spark-submit's.
"""

from __future__ import annotations

import sys

from jobs.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
