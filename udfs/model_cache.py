"""Models loaded once per Python worker, held in a small bounded cache keyed by identity.

Spark reuses Python workers between tasks (spark.python.worker.reuse), so a model loaded
by the first task of a worker serves every later task of that worker.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

ModelT = TypeVar("ModelT")

MAX_MODELS = 3  # a spaCy pipeline, a transformers checkpoint and the PII analyzer
_models: OrderedDict[Hashable, Any] = OrderedDict()
_lock = threading.Lock()
_loads = 0


def get_model(key: Hashable, load: Callable[[], ModelT]) -> ModelT:
    """The cached model for ``key``, loading it with ``load()`` on first use (LRU eviction)."""
    global _loads
    with _lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
        model = load()
        _loads += 1
        _models[key] = model
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)
        return model


def load_count() -> int:
    """How many loads this process has done (for tests and metrics)."""
    return _loads


def clear() -> None:
    with _lock:
        _models.clear()
