"""
### docner lake maintenance

Weekly `docner maintain` over the lake, one `spark-submit` of docner's `jobs/spark_entry.py`:
each Delta table's small files compacted, a checkpoint written, and files no current version
needs (removed ones, and ones a killed writer left uncommitted) vacuumed once older than
`maintain.retention_hours` (168 by default, longer than any pipeline run, so it is safe while
`docner_pipeline` writes). Settings as in `docner_pipeline`: Variable `docner_X`, else param `X`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag
from docner_common import COMMON_PARAMS, DEFAULT_ARGS, USER_DEFINED_FILTERS, USER_DEFINED_MACROS, docner_task, template


@dag(
    dag_id="docner_maintenance",
    schedule="@weekly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["docner", "spark", "maintenance"],
    doc_md=__doc__,
    params=COMMON_PARAMS,
    user_defined_filters=USER_DEFINED_FILTERS,
    user_defined_macros=USER_DEFINED_MACROS,
)
def docner_maintenance() -> None:
    docner_task("maintain", "maintain", ["--lake", template("lake"), "--env", template("env")])


docner_maintenance()
