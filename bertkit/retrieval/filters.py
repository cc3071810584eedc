"""Metadata filters: ``{"source": "wiki"}`` keeps passages whose metadata field equals the value.

A value may be a list (any of them matches); several fields must all match. ``doc_id`` is
always a field. A field no passage has is refused, naming the fields there are.
"""

from __future__ import annotations

import json

import numpy as np

from bertkit.errors import ParameterError

__all__ = ["filter_mask"]


def _fields(table) -> dict[str, list]:
    """field -> per-row values (None where a row lacks it), built once per table."""
    cached = table.cache.get("fields")
    if cached is None:
        names = sorted({k for m in table.metadata for k in m})
        cached = {name: [m.get(name) for m in table.metadata] for name in names}
        cached["doc_id"] = table.doc_ids
        table.cache["fields"] = cached
    return cached


def _key(value) -> str:
    return json.dumps(value, sort_keys=True)


def filter_mask(table, filter: dict | None) -> np.ndarray | None:
    """(N,) bool of the rows that match ``filter``, or None for no filter."""
    if filter is None:
        return None
    if not isinstance(filter, dict) or not all(isinstance(k, str) for k in filter):
        raise ParameterError("filter", f"filter must be an object of field -> value, got {type(filter).__name__}")
    fields = _fields(table)
    mask = np.ones(len(table), dtype=bool)
    for name, wanted in filter.items():
        if name not in fields:
            known = ", ".join(sorted(fields)) or "(none)"
            raise ParameterError("filter", f"unknown metadata field {name!r} in filter; fields: {known}")
        options = wanted if isinstance(wanted, list) else [wanted]
        if any(isinstance(o, (dict, list)) for o in options):
            raise ParameterError("filter", f"filter field {name!r}: expected a value or a list of values, got {json.dumps(wanted)[:60]}")
        accept = {_key(o) for o in options}
        mask &= np.fromiter((_key(v) in accept for v in fields[name]), dtype=bool, count=len(table))
    return mask
