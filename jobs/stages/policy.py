"""The redaction policy on the driver: the redact stage's options with the hash action's key,
read from the environment or a file and never written, and the search feed's redacted values
(the ner stage writes ``entity_search`` through :func:`redacted_entities` when redaction is on).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.config import ConfigError, DocnerConfig, options_from, resolve_conf_path
from udfs.redact.text import MIN_KEY_BYTES, RedactOptions, key_fingerprint, replacement

# The redact settings that do not reach the workers as they are.
DRIVER_SETTINGS = {
    "enabled": "whether docner run runs the stage (jobs.pipeline)",
    "key_env": "the key itself, read on the driver (redaction_key)",
    "key_file": "the key itself, read on the driver (redaction_key)",
    "chars_per_task": "task sizes (run_redact)",
    "pdf_dpi": "docner redact-pdf (jobs.ops.redact_pdf)",
}


def redaction_key(config: DocnerConfig) -> bytes:
    """The HMAC key of the hash action: the environment variable ``redact.key_env``, else the file
    ``redact.key_file`` (its bytes, without a final line break). Raises ConfigError saying how to
    give one when there is none, or it is shorter than 16 bytes."""
    settings = config.redact
    value = os.environ.get(settings.key_env)
    if value:
        key, where = value.encode(), f"${settings.key_env}"
    elif settings.key_file:
        path = resolve_conf_path(config, settings.key_file)
        try:
            key, where = Path(path).read_bytes().rstrip(b"\r\n"), str(path)
        except OSError as exc:
            raise ConfigError(f"redact.key_file: cannot read the redaction key {path}: {exc.strerror}") from exc
    else:
        hashed = sorted(label for label, action in settings.policy.items() if action == "hash")
        raise ConfigError(
            f"redact.policy hashes {', '.join(hashed)}: set the key in ${settings.key_env} or a file named by "
            f"redact.key_file (at least {MIN_KEY_BYTES} bytes, e.g. `openssl rand -hex 32`); it is never stored"
        )
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the redaction key in {where} is {len(key)} bytes: it needs at least {MIN_KEY_BYTES}")
    return key


def redact_options(config: DocnerConfig) -> RedactOptions:
    """The ``redact`` settings as the (picklable) options the tasks run with, the key read here."""
    settings = config.redact
    key = redaction_key(config) if "hash" in settings.policy.values() else None
    return options_from(settings, RedactOptions, elsewhere=DRIVER_SETTINGS, key=key)


def option_key_id(options: RedactOptions) -> str | None:
    return key_fingerprint(options.key) if options.key is not None else None


def redacted_entities(entities_df: DataFrame, options: RedactOptions) -> DataFrame:
    """``entities`` rows with ``text``, ``normalized_value`` and ``entity_key`` replaced for the
    labels the policy redacts (the same token as in ``redacted_pages`` for hash and label), the
    other rows as they are."""
    labels = sorted(options.redacted_labels)
    if not labels:
        return entities_df

    @F.pandas_udf(T.StringType())  # type: ignore[call-overload]
    def replace(label, value):
        actions = options.actions  # Spark runs the UDF on every row, the when() picks the chosen ones
        return label.combine(
            value,
            lambda lab, val: None if val is None else replacement(lab, actions.get(lab, "keep"), val, options.key),
        )

    chosen = F.col("label").isin(labels)
    return entities_df.select(
        *[
            F.when(chosen, replace(F.col("label"), F.col(name))).otherwise(F.col(name)).alias(name)
            if name in ("text", "normalized_value", "entity_key")
            else F.col(name)
            for name in entities_df.columns
        ]
    )


def search_redaction(config: DocnerConfig, options: RedactOptions | None) -> dict[str, Any] | None:
    """What the ner stage's version takes from the redaction (None when it is off): the policy
    and the key's fingerprint, so that entity_search is written again when either changes."""
    if options is None:
        return None
    return {"policy": dict(sorted(config.redact.policy.items())), "key": option_key_id(options)}
