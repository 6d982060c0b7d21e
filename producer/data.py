"""`tracklog.data`: datasets for `log_input` (MLflow's mlflow.data, reduced).

`Dataset` names a dataset by name and digest, with where it came from (`source`
JSON, `source_type`), its `schema` JSON and a `profile` JSON (sizes).
`from_pandas(df, source=..., name=...)` builds one from a DataFrame: the digest is
the first 8 hex digits of a SHA-256 over the column names and the row hashes, the
schema lists the columns as MLflow's `mlflow_colspec`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tracklog.events import lifecycle as events_tracking
from tracklog.v1 import events_pb2 as pb


@dataclass(frozen=True, slots=True)
class Dataset:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""  # JSON, e.g. {"uri": "s3://bucket/train.parquet"}
    schema: str = ""  # JSON, e.g. {"mlflow_colspec": [{"type": "double", "name": "x"}]}
    profile: str = ""  # JSON, e.g. {"num_rows": 100, "num_elements": 400}

    def logged(self, context: str | None = None) -> pb.DatasetInputLogged:
        """The event payload recording this dataset as an input of a run."""
        return events_tracking.dataset_input_logged(
            name=self.name,
            digest=self.digest,
            source_type=self.source_type,
            source=self.source,
            schema=self.schema,
            profile=self.profile,
            context=context or "",
        )


def source_type_of(uri: str) -> str:
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("http", "https"):
        return "http"
    return scheme or "local"


_TYPES = {"i": "long", "u": "long", "f": "double", "b": "boolean", "M": "datetime"}


def _column_type(dtype: Any) -> str:
    return _TYPES.get(getattr(dtype, "kind", ""), "string")


def from_pandas(
    df: Any, source: str | None = None, name: str | None = None, targets: str | None = None
) -> Dataset:
    """A Dataset describing a pandas DataFrame (pandas must be installed)."""
    import pandas as pd  # type: ignore[import-untyped]

    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"from_pandas needs a pandas DataFrame, got {type(df).__name__}")
    hasher = hashlib.sha256()
    hasher.update(json.dumps([str(c) for c in df.columns]).encode())
    hasher.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    digest = hasher.hexdigest()[:8]
    colspec = [{"type": _column_type(t), "name": str(c)} for c, t in df.dtypes.items()]
    profile = {"num_rows": len(df), "num_elements": int(df.size)}
    uri = source or ""
    schema: dict[str, Any] = {"mlflow_colspec": colspec}
    if targets is not None:
        schema["targets"] = targets
    return Dataset(
        name=name or "dataset",
        digest=digest,
        source_type=source_type_of(uri) if uri else "code",
        source=json.dumps({"uri": uri} if uri else {}),
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )
