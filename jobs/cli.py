"""The ``docner`` command line.

    docner run     --input DIR --lake DIR [--env ENV] [--run-id ID] [--reprocess [STAGES]] [--stages STAGES]
    docner ingest  --input DIR --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner extract --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner ner     --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner fields  --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner stages  [--format table|csv|json]
    docner eval ner --lake DIR --gold FILE [--format jsonl|labelstudio|conll] [--out FILE.json] [--labels L,…]
    docner eval fields --lake DIR --gold FILE [--format cuad|jsonl] [--out FILE.json] [--fields F,…]

The stage commands (one per stage of ``jobs.catalog.stages.STAGES``) and ``run`` come from the
stage registry; ``--input`` is needed when a stage that reads the input runs.

Runs are incremental: each stage processes only the documents it has not processed with
its current version (code, settings, models, rules); ``--reprocess`` forces it.
    docner sql     --lake DIR [--format table|csv|json] [--as-of VERSION|TABLE=VERSION|TIME] "SELECT …"
    docner sql     --lake DIR --tables
    docner maintain --lake DIR [--dry-run] [--format table|csv|json]
    docner export-search --lake DIR --out FILE [--index NAME] [--full]
    docner redact  --lake DIR [--env ENV] [--run-id ID] [--reprocess]
    docner redact-pdf --lake DIR --out DIR [--doc-id ID …] [--format table|csv|json]
    docner data-docs --lake DIR --out DIR
    docner validate --lake DIR [--run-id ID] [--input DIR] [--data-docs DIR] [--report FILE]
    docner report  --lake DIR [--out FILE] [--max-runs N]
    docner samples --out DIR
    docner lexicon --lake DIR --out FILE [--min-documents N] [--exclude-gold FILE]

Progress goes to stderr: a status line on a terminal, JSON log lines off one (``--log-format``).
After each stage command the run's figures are written in the Prometheus text format.

Results go to stdout; logs and Spark's own chatter go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.catalog.stages import STAGE_NAMES, STAGES, stage_spec
from jobs.config import ConfigError, DocnerConfig, load_config
from jobs.ops.progress import configure_logging, log_context

if TYPE_CHECKING:
    from jobs.stages.base import StageContext

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


def _add_stage_args(parser: argparse.ArgumentParser, needs_input: bool, takes_input: bool | None = None) -> None:
    if needs_input or takes_input:
        parser.add_argument(
            "--input",
            required=needs_input,
            help="directory (searched recursively) or file of PDFs"
            + ("" if needs_input else f" (needed by {', '.join(s.name for s in STAGES if s.needs_input)})"),
        )
    parser.add_argument("--lake", required=True, help="directory of the Delta tables")
    parser.add_argument(
        "--run-id", help="run id (default: a new one); a retry with the same id commits each write once"
    )
    parser.add_argument(
        "--reprocess",
        nargs="?",
        const=",".join(STAGE_NAMES),
        default="",
        metavar="STAGE[,STAGE]",
        help="process documents again even when done with the same stage version "
        f"(all stages of the command, or those named: {', '.join(STAGE_NAMES)})",
    )
    _add_config_args(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="docner", description="PDF text and named entities into Delta tables, on Spark."
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "text"],
        help="log records as JSON lines or text (auto: text on a terminal, JSON otherwise)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help=f"the stages in one go: {', '.join(STAGE_NAMES)}")
    _add_stage_args(run, needs_input=False, takes_input=True)
    run.add_argument(
        "--stages",
        default=None,
        metavar="STAGE[,STAGE]",
        help="the stages to run, in pipeline order (default: every stage that is on: "
        + ", ".join(f"{s.name} when {s.switch} is true" if s.switch else s.name for s in STAGES)
        + ")",
    )
    run.add_argument(
        "--if-switched-on",
        action="store_true",
        help="of the stages named, leave out those a setting turns on that is off (the Airflow tasks' way)",
    )
    for stage in STAGES:
        _add_stage_args(commands.add_parser(stage.name, help=stage.summary), needs_input=stage.needs_input)
    stages = commands.add_parser("stages", help="list the pipeline's stages, their tables and Airflow tasks")
    stages.add_argument("--format", choices=["table", "csv", "json"], default="table")
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
    redact_pdf = commands.add_parser(
        "redact-pdf",
        help="a redacted copy of each redacted document: pages re-rendered, redacted words gone from the file",
    )
    redact_pdf.add_argument("--lake", required=True)
    redact_pdf.add_argument("--out", required=True, help="the directory the copies go to, named after the input files")
    redact_pdf.add_argument("--doc-id", action="append", default=[], help="only this document (repeatable)")
    redact_pdf.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_config_args(redact_pdf)
    docs = commands.add_parser("data-docs", help="render the stored data-quality results as GX Data Docs HTML")
    docs.add_argument("--lake", required=True)
    docs.add_argument("--out", required=True, help="directory for the HTML (index.html + one page per result)")
    validate = commands.add_parser(
        "validate", help="check the tables against each other after a run; exit 1 if a check fails"
    )
    validate.add_argument("--lake", required=True)
    validate.add_argument("--run-id", help="the run to check (its stages recorded, their checks passed)")
    validate.add_argument("--input", help="the run's input: every PDF under it must have a documents row")
    validate.add_argument("--data-docs", metavar="DIR", help="also build the GX Data Docs HTML into DIR")
    validate.add_argument("--report", metavar="FILE", help="also write the HTML run report to FILE")
    validate.add_argument("--format", choices=["table", "csv", "json"], default="table")
    _add_config_args(validate)
    report = commands.add_parser("report", help="write a self-contained HTML report of the latest run and trends")
    report.add_argument("--lake", required=True)
    report.add_argument("--out", help="the HTML file (default: under <lake>/_reports/)")
    report.add_argument("--max-runs", type=int, default=30, help="runs shown in the trend charts")
    evaluate = commands.add_parser("eval", help="measure the lake's output against gold (eval ner)")
    tasks = evaluate.add_subparsers(dest="eval_task", required=True)
    eval_ner = tasks.add_parser("ner", help="entities against gold spans: precision, recall, F1, errors")
    eval_ner.add_argument("--lake", required=True)
    eval_ner.add_argument("--gold", required=True, help="the gold file (docs/evaluation.md)")
    eval_ner.add_argument("--format", choices=["jsonl", "labelstudio", "conll"], default="jsonl", dest="gold_format")
    eval_ner.add_argument("--out", help="also write the whole result (errors and examples included) as JSON")
    eval_ner.add_argument("--labels", help="the labels to evaluate, comma-separated (default: those the gold uses)")
    _add_config_args(eval_ner)
    eval_fields = tasks.add_parser(
        "fields", help="contract key fields against gold: precision, recall, F1, misses, reliability"
    )
    eval_fields.add_argument("--lake", required=True)
    eval_fields.add_argument("--gold", required=True, help="the gold file (docs/evaluation.md, Contract fields)")
    eval_fields.add_argument(
        "--format", choices=["cuad", "jsonl"], dest="gold_format", help="default: cuad for a .csv file, else jsonl"
    )
    eval_fields.add_argument("--out", help="also write the whole result (every error included) as JSON")
    eval_fields.add_argument("--fields", help="the fields to score, comma-separated (default: those the gold has)")
    eval_fields.add_argument(
        "--write-calibration",
        metavar="FILE",
        help="also fit the confidence table (right / total per field and method) on this gold and write it "
        "(fields.calibration reads it)",
    )
    lexicon = commands.add_parser(
        "lexicon", help="learn the words and defined terms of the lake's documents, for ner.lexicon"
    )
    lexicon.add_argument("--lake", required=True)
    lexicon.add_argument("--out", required=True, help="the lexicon file to write (JSON)")
    lexicon.add_argument("--min-documents", type=int, default=3, help="keep what at least this many documents show")
    lexicon.add_argument(
        "--exclude-gold", action="append", default=[], help="leave out the documents this gold file names (repeatable)"
    )
    annotations = commands.add_parser(
        "annotations", help="pages out to annotators (Label Studio, span JSONL) and their spans back into the lake"
    )
    annotation_tasks = annotations.add_subparsers(dest="annotations_task", required=True)
    annotations_export = annotation_tasks.add_parser(
        "export", help="the lake's pages as annotation tasks, entities pre-annotated, the most uncertain first"
    )
    annotations_export.add_argument("--lake", required=True)
    annotations_export.add_argument("--out", required=True, help="directory for tasks.json, spans.jsonl, labels.xml")
    annotations_export.add_argument("--limit", type=int, help="at most this many pages (the most uncertain)")
    _add_config_args(annotations_export)
    annotations_import = annotation_tasks.add_parser(
        "import", help="a Label Studio export or span JSONL into the annotations table, as a new version"
    )
    annotations_import.add_argument("--lake", required=True)
    annotations_import.add_argument("file", help="the annotation file (docs/annotation.md)")
    annotations_import.add_argument(
        "--format", choices=["labelstudio", "jsonl", "conll"], dest="annotation_format",
        help="default: labelstudio for .json, conll for .conll, else jsonl",
    )  # fmt: skip
    annotations_import.add_argument(
        "--skip-invalid", action="store_true", help="import the usable records and list the others (default: none)"
    )
    _add_config_args(annotations_import)
    train = commands.add_parser("train", help="train a NER model on the lake's annotations (docs/annotation.md)")
    train.add_argument("--lake", required=True)
    train.add_argument("--backend", choices=["spacy", "transformers"], required=True)
    train.add_argument("--name", required=True, help="the model's name: <lake>/_models/<name>/<version>/")
    train.add_argument("--labels", help="train only these labels, comma-separated (default: every annotated label)")
    train.add_argument(
        "--base",
        help="what to start from: a spaCy pipeline or 'blank' (default: ner.spacy.model), or a local "
        "token-classification checkpoint directory (default: ner.transformers.model_path)",
    )
    train.add_argument("--epochs", type=int, default=10, help="at most this many epochs (early stopping ends sooner)")
    train.add_argument("--patience", type=int, default=2, help="epochs without a better held-out F1 before stopping")
    train.add_argument("--heldout", type=float, default=0.2, help="share of the documents held out")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--processes",
        type=int,
        help="transformers: train in this many processes through Spark's TorchDistributor "
        "(default: train.transformers.processes; 0: in this process)",
    )
    _add_config_args(train)
    samples = commands.add_parser("samples", help="generate the sample contract PDFs and their gold entities")
    samples.add_argument("--out", required=True)
    return parser


def _config(args: argparse.Namespace) -> DocnerConfig:
    return load_config(args.env, args.conf_dir, args.conf)


def _stage_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.lake.delta.faults import arm
    from jobs.lake.tables import ensure_tables
    from jobs.session import build_spark
    from jobs.stages.base import StageContext, new_run_id

    reprocess = _reprocess_stages(args.reprocess)
    if args.command == "run" and not args.input:
        readers = [name for name in _chosen_stages(args, config) if stage_spec(name).needs_input]
        if readers:
            print(f"docner run: --input is needed by the stage(s) {', '.join(readers)}", file=sys.stderr)
            return EXIT_USAGE
    arm()
    lake = Path(args.lake).absolute()
    lake.mkdir(parents=True, exist_ok=True)
    ensure_tables(lake)
    ctx = StageContext(spark=lambda: build_spark(config), config=config, lake=lake, run_id=args.run_id or new_run_id())
    with log_context(run_id=ctx.run_id):
        code = _run_stages(args, ctx, reprocess)
        _export_metrics(config, lake, ctx.run_id)
    return code


def _run_stages(args: argparse.Namespace, ctx: StageContext, reprocess: frozenset[str]) -> int:
    from jobs.console import describe_run, format_example, format_summary
    from jobs.pipeline import run_pipeline, run_stage

    if args.command == "run":
        print(describe_run(ctx, args.input or "-"), flush=True)
        results = run_pipeline(ctx, args.input, reprocess, _chosen_stages(args, ctx.config))
        print(format_summary(results))
        if any(result.documents_in for result in results if not stage_spec(result.stage).needs_input):
            print()
            print(format_example(ctx))
        else:
            print("nothing to do: every document is up to date (--reprocess forces a stage)")
    else:
        stage = stage_spec(args.command)
        result = run_stage(ctx, stage, getattr(args, "input", None), reprocess=stage.name in reprocess)
        print(format_summary([result]))
    return 0


def stage_listing() -> tuple[list[str], list[tuple[object, ...]]]:
    """``docner stages``: each stage with what it reads, writes and which Airflow task runs it
    (``airflow_dags/docner_stages.json`` is this listing as JSON, for the DAG)."""
    from jobs.catalog.tables import TABLES

    columns = ["stage", "summary", "after", "needs_input", "tables", "dag_task", "switch"]
    rows: list[tuple[object, ...]] = [
        (
            stage.name,
            stage.summary,
            stage.after,
            stage.needs_input,
            [spec.name for spec in TABLES.values() if spec.stage == stage.name],
            stage.dag_task,
            stage.switch,
        )
        for stage in STAGES
    ]
    return columns, rows


def _export_metrics(config: DocnerConfig, lake: Path, run_id: str) -> None:
    from jobs.ops.metrics import export_run_metrics

    done = export_run_metrics(config.metrics, lake, run_id)
    if done.path is not None:
        log.info("metrics written to %s%s", done.path, " and pushed" if done.pushed else "")


def _validate_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.console import format_rows
    from jobs.quality.validate import save_validation, validate_lake

    with log_context(run_id=args.run_id, stage="validate"):
        result = validate_lake(args.lake, args.run_id, args.input)
        saved = save_validation(args.lake, result)
        rows = [(c.name, "ok" if c.ok else "FAILED", c.failures, ", ".join(c.examples)) for c in result.checks]
        sys.stdout.write(format_rows(["check", "result", "failures", "examples"], rows, args.format) + "\n")
        if saved is not None:
            log.info("validation result kept in %s", saved)
        if args.data_docs:
            from jobs.quality.audit import build_data_docs

            pages = build_data_docs(Path(args.lake), Path(args.data_docs))
            log.info("data docs written to %s", pages[0])
        if args.report:
            from jobs.ops.report import write_report

            log.info("report written to %s", write_report(args.lake, args.report))
        if args.run_id:
            _export_metrics(config, Path(args.lake), args.run_id)
        if not result.ok:
            print(f"docner: {result.message()}", file=sys.stderr)
            return EXIT_FAILURE
    return 0


def _lexicon_command(args: argparse.Namespace) -> int:
    from jobs.learn.gold import format_of, read_gold
    from jobs.learn.lexicon import build_lexicon

    if args.min_documents < 1:
        print("docner: --min-documents must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    excluded: list[str] = []
    for gold in args.exclude_gold:
        excluded += [document.file for document in read_gold(Path(gold), format_of(gold), labels=()).documents]
    data = build_lexicon(args.lake, args.out, min_documents=args.min_documents, exclude=excluded)
    print(
        f"wrote {args.out}: {len(data['lower_words'])} lower-case words and {len(data['defined_terms'])} defined "
        f"terms seen in at least {data['min_documents']} of {data['documents']} documents "
        f"({data['excluded']} left out)"
    )
    return 0


def _comma_list(value: str | None) -> list[str] | None:
    """``A, B,C`` -> ["A", "B", "C"]; None or blank: None."""
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def _annotations_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.learn.annotations import AnnotationsError, export_annotations, import_annotations
    from jobs.learn.gold import format_of

    if args.annotations_task == "export":
        if args.limit is not None and args.limit < 1:
            print("docner: --limit must be 1 or more", file=sys.stderr)
            return EXIT_USAGE
        done = export_annotations(args.lake, args.out, labels=config.quality.labels, limit=args.limit)
        print(
            f"wrote {done.passages} page(s) with {done.entities} pre-annotated entities: "
            + ", ".join(map(str, done.files))
        )
        return 0
    fmt = args.annotation_format or format_of(args.file)
    try:
        result = import_annotations(
            args.lake, args.file, fmt=fmt, known_labels=config.quality.labels, skip_invalid=args.skip_invalid
        )
    except AnnotationsError as exc:
        print(f"docner: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    for problem in result.problems:
        print(f"docner annotations: left out: {problem.where}: {problem.message}", file=sys.stderr)
    print(
        f"imported {result.spans} span(s) of {result.documents} document(s) from {result.source} "
        f"as annotations version {result.version}"
    )
    return 0


def _train_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.learn.train import SpacyTraining, TrainError, train_spacy

    if args.epochs < 1 or args.patience < 1 or not 0 <= args.heldout < 1:
        print("docner: --epochs and --patience must be 1 or more, --heldout in [0, 1)", file=sys.stderr)
        return EXIT_USAGE
    if args.processes is not None and (args.processes < 0 or args.backend != "transformers"):
        print("docner: --processes is for --backend transformers, and 0 or more", file=sys.stderr)
        return EXIT_USAGE
    labels = _comma_list(args.labels)
    try:
        if args.backend == "transformers":
            result = _train_transformers(args, config, labels)
            if result is None:
                return EXIT_USAGE
        else:
            settings = SpacyTraining(
                base=args.base or config.ner.spacy.model,
                max_epochs=args.epochs,
                patience=args.patience,
                heldout_share=args.heldout,
                seed=args.seed,
            )
            result = train_spacy(args.lake, args.name, labels=labels, settings=settings, silver=config.train.silver)
    except TrainError as exc:
        print(f"docner: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    heldout = result.card["heldout"]
    print(
        f"trained {result.name} version {result.version} ({', '.join(result.card['trained_labels'])}): "
        f"held-out strict F1 {heldout['f1']} over {result.card['split']['heldout_spans']} span(s); {result.path}"
    )
    setting = "ner.transformers.model_path" if args.backend == "transformers" else "ner.spacy.model"
    print(f"use it: --conf {setting}={result.path}")
    return 0


def _train_transformers(args: argparse.Namespace, config: DocnerConfig, labels: list[str] | None) -> Any:
    """``docner train --backend transformers``; None after a usage message."""
    from jobs.learn.train_transformers import TransformersTraining, train_transformers

    base = args.base or config.ner.transformers.model_path
    if not base:
        print("docner: --backend transformers needs --base or ner.transformers.model_path (a local checkpoint)",
              file=sys.stderr)  # fmt: skip
        return None
    chosen, inference = config.train.transformers, config.ner.transformers
    processes = chosen.processes if args.processes is None else args.processes
    settings = TransformersTraining(
        base=str(Path(base).expanduser()),
        max_epochs=args.epochs,
        patience=args.patience,
        learning_rate=chosen.learning_rate,
        batch_size=chosen.batch_size,
        weight_decay=chosen.weight_decay,
        warmup_ratio=chosen.warmup_ratio,
        heldout_share=args.heldout,
        seed=args.seed,
        max_length=inference.max_length,
        stride=inference.stride,
        label_map=tuple(inference.label_map.items()),
        processes=processes,
        use_gpu=chosen.use_gpu,
        local_mode=chosen.local_mode,
    )
    if processes == 0:
        return train_transformers(args.lake, args.name, labels=labels, settings=settings, silver=config.train.silver)
    from jobs.session import build_spark

    spark = build_spark(config)
    try:
        return train_transformers(args.lake, args.name, labels=labels, settings=settings, silver=config.train.silver)
    finally:
        spark.stop()


def _eval_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.console import format_rows
    from jobs.learn.evaluate import evaluate_ner, save_evaluation
    from jobs.learn.scoring import ALL, MACRO

    labels = _comma_list(args.labels)
    result = evaluate_ner(args.lake, args.gold, fmt=args.gold_format, known_labels=config.quality.labels, labels=labels)
    save_evaluation(args.lake, result, args.out)
    for problem in result.problems[:20]:
        print(f"docner eval: {problem.where}: {problem.message}", file=sys.stderr)
    if len(result.problems) > 20:
        print(f"docner eval: … {len(result.problems) - 20} more problem(s), all in the JSON result", file=sys.stderr)
    columns = [
        "label",
        "gold",
        "predicted",
        "strict P",
        "strict R",
        "strict F1",
        "overlap P",
        "overlap R",
        "overlap F1",
    ]
    rows = []
    for label in (*result.labels, ALL, MACRO):
        strict, overlap = result.scores.counts["strict"].get(label), result.scores.counts["type"].get(label)
        if label == MACRO:
            s_p, s_r, s_f = result.scores.macro("strict")
            o_p, o_r, o_f = result.scores.macro("type")
            gold_spans, predicted = None, None
        elif strict is None or overlap is None or not (strict.gold or strict.predicted):
            continue
        else:
            s_p, s_r, s_f, o_p, o_r, o_f = (
                strict.precision, strict.recall, strict.f1, overlap.precision, overlap.recall, overlap.f1
            )  # fmt: skip
            gold_spans, predicted = strict.gold, strict.predicted
        figures = [None if v is None else round(v, 3) for v in (s_p, s_r, s_f, o_p, o_r, o_f)]
        rows.append((label, gold_spans, predicted, *figures))
    print(f"evaluation {result.eval_id}: {len(result.documents)} document(s), {len(result.problems)} problem(s)")
    sys.stdout.write(format_rows(columns, rows, "table") + "\n")
    errors = ", ".join(f"{kind} {count}" for kind, count in sorted(result.errors.items()))
    print(f"errors: {errors or 'none'}")
    return 0


def _eval_fields_command(args: argparse.Namespace) -> int:
    import json

    from jobs.atomic import write_atomically
    from jobs.console import format_rows
    from jobs.learn.fields_eval import ALL, PARTY, evaluate_fields, method_counts, reliability, save_fields_evaluation
    from udfs.fields.calibrate import fit
    from udfs.fields.extract import FIELD_NAMES

    fields = _comma_list(args.fields)
    unknown = sorted(set(fields or ()) - set(FIELD_NAMES))
    if unknown:
        print(f"docner eval fields: unknown fields {unknown} (fields: {', '.join(FIELD_NAMES)})", file=sys.stderr)
        return EXIT_USAGE
    result = evaluate_fields(args.lake, args.gold, fmt=args.gold_format, fields=fields)
    save_fields_evaluation(args.lake, result, args.out)
    if args.write_calibration:
        table = fit(
            method_counts(result),
            fitted_on=f"{Path(args.gold).parent.name}/{Path(args.gold).name}, {len(result.documents)} documents",
        )
        write_atomically(Path(args.write_calibration), json.dumps(table, indent=1) + "\n")
        print(f"calibration of {len(table['methods'])} field method(s) written to {args.write_calibration}")
    for problem in result.problems[:20]:
        print(f"docner eval: {problem.where}: {problem.message}", file=sys.stderr)
    if len(result.problems) > 20:
        print(f"docner eval: … {len(result.problems) - 20} more problem(s), all in the JSON result", file=sys.stderr)

    def figure(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    print(f"evaluation {result.eval_id}: {len(result.documents)} document(s), {len(result.problems)} problem(s)")
    error_columns = ["file", "field", "kind", "expected", "found", "as written", "page", "confidence", "method"]

    def one_line(text: str | None) -> str | None:
        return None if text is None else " ".join(text.split())

    error_rows = [
        (e.file, e.field, e.kind, e.expected_text, one_line(e.found), one_line(e.found_written), e.page_no,
         e.confidence, e.method)
        for e in result.errors
    ]  # fmt: skip
    if error_rows:
        print(f"misses and wrong values ({len(error_rows)}):")
        sys.stdout.write(format_rows(error_columns, error_rows, "table") + "\n\n")
    columns = ["field", "documents", "gold", "predicted", "right", "P", "R", "F1", "stated acc", "empty", "empty none"]
    rows = []
    scored = [(name, counts) for name, counts in result.counts.items() if counts.documents]
    for name, counts in [*scored, (ALL, result.total()), *result.extras.items()]:
        single = name not in (PARTY, ALL)
        rows.append(
            (name, counts.documents, counts.stated, counts.predicted, counts.right, figure(counts.precision),
             figure(counts.recall), figure(counts.f1), figure(counts.recall) if single else None,
             counts.empty if single else None, figure(counts.empty_none_share) if single else None)
        )  # fmt: skip
    sys.stdout.write(format_rows(columns, rows, "table") + "\n\n")
    print("reliability (the lake's values on the scored fields, by confidence):")
    bins = reliability(result)
    bin_rows = [
        (f"[{b.low:.1f}, {b.high:.1f}{']' if index == len(bins) - 1 else ')'}", b.values, b.right,
         figure(b.share_right), figure(b.mean_confidence))
        for index, b in enumerate(bins)
    ]  # fmt: skip
    sys.stdout.write(
        format_rows(["confidence", "values", "right", "share right", "mean confidence"], bin_rows, "table")
    )
    kinds = ", ".join(f"{kind} {count}" for kind, count in result.error_counts().items() if count)
    print(f"\nerrors: {kinds or 'none'}")
    return 0


def _reprocess_stages(value: str) -> frozenset[str]:
    return _stage_list(value, "--reprocess")


def _chosen_stages(args: argparse.Namespace, config: DocnerConfig) -> frozenset[str]:
    """The stages ``docner run`` runs: those named (of them only the ones on, with
    ``--if-switched-on``), else every stage that is on."""
    from jobs.pipeline import stages_on

    if args.stages is None:
        return frozenset(stages_on(config))
    named = _stage_list(args.stages, "--stages")
    return named & frozenset(stages_on(config)) if args.if_switched_on else named


def _stage_list(value: str, option: str) -> frozenset[str]:
    stages = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(stages - set(STAGE_NAMES))
    if unknown:
        raise ConfigError(f"{option} names unknown stages {unknown} (stages: {', '.join(STAGE_NAMES)})")
    return stages


def _sql_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    from jobs.console import format_rows
    from jobs.lake.sql import list_table_versions, parse_as_of, run_query
    from jobs.session import build_spark

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

    from jobs.console import format_rows
    from jobs.lake.maintain import TableMaintenance, maintain_lake

    done = maintain_lake(args.lake, config.maintain, dry_run=args.dry_run)
    columns = [f.name for f in fields(TableMaintenance)]
    rows = [tuple(round(v, 2) if isinstance(v, float) else v for v in astuple(entry)) for entry in done]
    sys.stdout.write(format_rows(columns, rows, args.format) + "\n")
    return 0


def _redact_pdf_command(args: argparse.Namespace, config: DocnerConfig) -> int:
    """``docner redact-pdf``: one line per document; exit 1 when a copy could not be written."""
    from dataclasses import astuple, fields

    from jobs.console import format_rows
    from jobs.ops.redact_pdf import FAILED, PdfOutcome, write_redacted_pdfs

    done = write_redacted_pdfs(Path(args.lake), Path(args.out), dpi=config.redact.pdf_dpi, doc_ids=args.doc_id)
    columns = [f.name for f in fields(PdfOutcome)]
    sys.stdout.write(format_rows(columns, [astuple(outcome) for outcome in done], args.format) + "\n")
    failed = [outcome for outcome in done if outcome.status == FAILED]
    if failed:
        print(f"docner redact-pdf: {len(failed)} document(s) could not be redacted; nothing written for them",
              file=sys.stderr)  # fmt: skip
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        if args.command == "samples":
            from jobs.dev.samples import generate_samples

            golds = generate_samples(args.out)
            print(f"wrote {len(golds)} sample files and gold.json to {Path(args.out).absolute()}")
            return 0
        if args.command == "stages":
            from jobs.console import format_rows

            columns, rows = stage_listing()
            sys.stdout.write(format_rows(columns, rows, args.format) + "\n")
            return 0
        if args.command == "data-docs":
            from jobs.quality.audit import build_data_docs

            pages = build_data_docs(Path(args.lake), Path(args.out))
            print(f"wrote {pages[0]} and {len(pages) - 1} validation page(s)")
            return 0
        if args.command == "export-search":
            from jobs.ops.export_search import export_search

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
        if args.command == "lexicon":
            return _lexicon_command(args)
        if args.command == "eval" and args.eval_task == "fields":
            return _eval_fields_command(args)
        if args.command == "report":
            from jobs.ops.report import write_report

            if args.max_runs < 0:
                print("docner: --max-runs must be 0 or more", file=sys.stderr)
                return EXIT_USAGE
            path = write_report(args.lake, args.out, max_runs=args.max_runs)
            print(f"wrote {path}")
            return 0
        config = _config(args)
        if args.command == "validate":
            return _validate_command(args, config)
        if args.command == "eval":
            return _eval_command(args, config)
        if args.command == "annotations":
            return _annotations_command(args, config)
        if args.command == "train":
            return _train_command(args, config)
        if args.command == "sql":
            return _sql_command(args, config)
        if args.command == "maintain":
            return _maintain_command(args, config)
        if args.command == "redact-pdf":
            return _redact_pdf_command(args, config)
        return _stage_command(args, config)
    except ConfigError as exc:
        print(f"docner: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        from jobs.lake.delta import DeltaWriteError, PredicateError
        from jobs.lake.tables import LakeError
        from jobs.quality.audit import QualityError
        from udfs.errors import ModelUnavailable
        from udfs.ner.lexicon import LexiconError
        from udfs.ner.places import PlacesError

        known = (
            LakeError,
            ModelUnavailable,
            DeltaWriteError,
            PredicateError,
            FileNotFoundError,
            QualityError,
            LexiconError,
            PlacesError,
        )
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
