"""The ``docner`` command line.

    docner run     --input DIR --lake DIR [--env ENV] [--run-id ID] [--reprocess [STAGES]]
    docner ingest  --input DIR --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner extract --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner ner     --lake DIR [--env ENV] [--run-id ID] [--reprocess]

Runs are incremental: each stage processes only the documents it has not processed with
its current version (code, settings, models, rules); ``--reprocess`` forces it.
    docner sql     --lake DIR [--format table|csv|json] [--as-of VERSION|TABLE=VERSION|TIME] "SELECT …"
    docner sql     --lake DIR --tables
    docner maintain --lake DIR [--dry-run] [--format table|csv|json]
    docner export-search --lake DIR --out FILE [--index NAME] [--full]
    docner data-docs --lake DIR --out DIR
    docner samples --out DIR

Results go to stdout; logs and Spark's own chatter go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from jobs.config import ConfigError, DocnerConfig, load_config

STAGES = ("ingest", "extract", "ner")
EXIT_USAGE = 2
EXIT_FAILURE = 1
log = logging.getLogger("docner")


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", help="configuration overlay (conf/<ENV>.yaml); default $DOCNER_ENV or local")
    parser.add_argument("--conf-dir", help="directory holding base.yaml and the overlays")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. spark.master=local[2]",
    )


def _add_stage_args(parser: argparse.ArgumentParser, needs_input: bool) -> None:
    if needs_input:
        parser.add_argument("--input", required=True, help="directory (searched recursively) or file of PDFs")
    parser.add_argument("--lake", required=True, help="directory of the Delta tables")
    parser.add_argument(
        "--run-id", help="run id (default: a new one); a retry with the same id commits each write once"
    )
    parser.add_argument(
        "--reprocess",
        nargs="?",
        const=",".join(STAGES),
        default="",
        metavar="STAGE[,STAGE]",
        help="process documents again even when done with the same stage version "
        "(all stages of the command, or those named: ingest, extract, ner)",
    )
    _add_config_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docner", description="PDF text and named entities into Delta tables, on Spark."
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_stage_args(commands.add_parser("run", help="ingest, extract and ner in one go"), needs_input=True)
    _add_stage_args(commands.add_parser("ingest", help="record the input PDFs in `documents`"), needs_input=True)
    _add_stage_args(commands.add_parser("extract", help="page text into `pages`"), needs_input=False)
    _add_stage_args(commands.add_parser("ner", help="named entities into `entities`"), needs_input=False)
    sql = commands.add_parser("sql", help="run SQL over the lake's tables")
    sql.add_argument("--lake", required=True)
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.add_argument("query", nargs="?", help="Spark SQL over the tables (each a view by its name)")
    sql.add_argument(
        "--as-of",
        action="append",
        default=[],
        metavar="VERSION|TABLE=VERSION|TIME",
        help="time travel: every table at a version or an ISO time (UTC unless given), or one table "
        "at its own version; repeatable",
    )
    sql.add_argument("--tables", action="store_true", help="list the tables with their versions instead")
    _add_config_args(sql)
    maintain = commands.add_parser(
        "maintain", help="compact small files, checkpoint, vacuum removed and never-committed files"
    )
    maintain.add_argument("--lake", required=True)
    maintain.add_argument("--dry-run", action="store_true", help="list what vacuum would delete; change nothing")
    maintain.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_config_args(maintain)
    export = commands.add_parser(
        "export-search", help="write entity_search as search-engine bulk NDJSON (changed documents and deletes)"
    )
    export.add_argument("--lake", required=True)
    export.add_argument("--out", required=True, help="the NDJSON file to write (replaced)")
    export.add_argument("--index", default="docner-documents", help="target index name (lower case)")
    export.add_argument("--format", choices=["opensearch-bulk"], default="opensearch-bulk")
    export.add_argument("--full", action="store_true", help="every current document, not only the changed ones")
    docs = commands.add_parser("data-docs", help="render the stored data-quality results as GX Data Docs HTML")
    docs.add_argument("--lake", required=True)
    docs.add_argument("--out", required=True, help="directory for the HTML (index.html + one page per result)")
    samples = commands.add_parser("samples", help="generate the sample contract PDFs and their gold entities")
    samples.add_argument("--out", required=True)
    return parser


def _config(args: argparse.Namespace) -> DocnerConfig:
    return load_config(args.env, args.conf_dir, args.conf)


def _stage_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.extract import run_extract
    from jobs.faults import arm
    from jobs.ingest import run_ingest
    from jobs.lake import ensure_tables
    from jobs.ner import run_ner
    from jobs.pipeline import describe_run, format_example, format_summary, run_pipeline
    from jobs.session import build_spark
    from jobs.stage import StageContext, new_run_id

    arm()
    reprocess = _reprocess_stages(args.reprocess)
    lake = Path(args.lake).absolute()
    lake.mkdir(parents=True, exist_ok=True)
    ensure_tables(lake)
    ctx = StageContext(spark=lambda: build_spark(config), config=config, lake=lake, run_id=args.run_id or new_run_id())
    if args.command == "run":
        print(describe_run(ctx, args.input), flush=True)
        results = run_pipeline(ctx, args.input, reprocess)
        print(format_summary(results))
        if any(result.documents_in for result in results[1:]):
            print()
            print(format_example(ctx))
        else:
            print("nothing to do: every document is up to date (--reprocess forces a stage)")
    else:
        stage = {
            "ingest": lambda: run_ingest(ctx, args.input, reprocess="ingest" in reprocess),
            "extract": lambda: run_extract(ctx, reprocess="extract" in reprocess),
            "ner": lambda: run_ner(ctx, reprocess="ner" in reprocess),
        }
        print(format_summary([stage[args.command]()]))
    return 0


def _reprocess_stages(value: str) -> frozenset[str]:
    stages = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(stages - set(STAGES))
    if unknown:
        raise ConfigError(f"--reprocess names unknown stages {unknown} (stages: {', '.join(STAGES)})")
    return stages


def _sql_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.session import build_spark
    from jobs.sql import format_rows, list_table_versions, parse_as_of, run_query

    if args.tables:
        table_columns, listing = list_table_versions(args.lake)
        sys.stdout.write(format_rows(table_columns, listing, args.format) + "\n")
        return 0
    if not args.query:
        print("docner sql: give a query, or --tables", file=sys.stderr)
        return 2
    as_of = parse_as_of(args.as_of)  # before Spark starts: a bad value fails fast
    spark = build_spark(config)
    columns, rows = run_query(spark, args.lake, args.query, as_of)
    sys.stdout.write(format_rows(columns, rows, args.format) + "\n")
    return 0


def _maintain_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from dataclasses import astuple, fields

    from jobs.maintain import TableMaintenance, maintain_lake
    from jobs.sql import format_rows

    done = maintain_lake(args.lake, config.maintain, dry_run=args.dry_run)
    columns = [f.name for f in fields(TableMaintenance)]
    rows = [tuple(round(v, 2) if isinstance(v, float) else v for v in astuple(entry)) for entry in done]
    sys.stdout.write(format_rows(columns, rows, args.format) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        if args.command == "samples":
            from jobs.samples import generate_samples

            golds = generate_samples(args.out)
            print(f"wrote {len(golds)} sample files and gold.json to {Path(args.out).absolute()}")
            return 0
        if args.command == "data-docs":
            from jobs.quality import build_data_docs

            pages = build_data_docs(Path(args.lake), Path(args.out))
            print(f"wrote {pages[0]} and {len(pages) - 1} validation page(s)")
            return 0
        if args.command == "export-search":
            from jobs.search import export_search

            try:
                done = export_search(args.lake, args.out, index=args.index, full=args.full)
            except ValueError as exc:  # a bad index name
                print(f"docner: {exc}", file=sys.stderr)
                return EXIT_USAGE
            print(
                f"wrote {done.path}: {done.indexed} document(s) to index, {done.deleted} to delete, "
                f"{done.unchanged} unchanged (entity_search version {done.entity_search_version})"
            )
            return 0
        config = _config(args)
        if args.command == "sql":
            return _sql_command(args, config)
        if args.command == "maintain":
            return _maintain_command(args, config)
        return _stage_command(args, config)
    except ConfigError as exc:
        print(f"docner: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from jobs.delta import DeltaWriteError, PredicateError
        from jobs.lake import LakeError
        from jobs.quality import QualityError
        from udfs.ner_spacy import ModelUnavailable

        known = (LakeError, ModelUnavailable, DeltaWriteError, PredicateError, FileNotFoundError, QualityError)
        if isinstance(exc, known):
            print(f"docner: error: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        analysis = _spark_analysis_error(exc)
        if analysis:
            print(f"docner: SQL error: {analysis}", file=sys.stderr)
            return EXIT_FAILURE
        raise


def _spark_analysis_error(exc: BaseException) -> str | None:
    from pyspark.errors import AnalysisException, ParseException

    if isinstance(exc, (AnalysisException, ParseException)):
        return str(exc).strip().splitlines()[0]
    return None


if __name__ == "__main__":
    sys.exit(main())
