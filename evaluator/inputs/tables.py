"""Tables a benchmark ships: a Hugging Face dataset on disk (parquet files, or a ``save_to_disk`` folder), or a JSON
object of id -> item."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path


class JsonObject(dict):
    """A JSON object that knows its repeated keys (``repeated``): ``json`` keeps the last value of a key and says
    nothing, which would drop a benchmark's item without a count."""

    def __init__(self, pairs: list[tuple[str, object]]):
        super().__init__(pairs)
        self.repeated = {k for k, n in Counter(k for k, _ in pairs).items() if n > 1}


def read_json_object(text: str) -> JsonObject:
    """A JSON object of id -> item, each object in it a ``JsonObject``.

    Raises:
        ValueError: not JSON, or not an object.
    """
    data = json.loads(text, object_pairs_hook=JsonObject)
    if not isinstance(data, JsonObject):
        raise ValueError("not a JSON object of id -> item")
    return data


def read_table(path: str | Path) -> list[dict]:
    """Rows of a Hugging Face dataset on disk: parquet file(s), or a ``save_to_disk`` folder of arrow files.

    Raises:
        FileNotFoundError: nothing there; ValueError: a file that is not parquet or arrow data (JSON, a corrupt
            or truncated file), in one line.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path).expanduser()
    files = (sorted(path.rglob("*.parquet")) or sorted(path.rglob("*.arrow"))) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise FileNotFoundError(f"no parquet or arrow data at {path}")
    tables = []
    for f in files:
        try:
            if f.suffix == ".arrow":  # datasets writes arrow IPC streams
                with pa.memory_map(str(f)) as source:
                    tables.append(pa.ipc.open_stream(source).read_all())
            else:
                tables.append(pq.read_table(f))
        except pa.ArrowException as e:  # JSON, CSV, a truncated download: one line, whatever pyarrow says
            why = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ValueError(f"{f} is not parquet or arrow data ({why})") from None
    try:
        return pa.concat_tables(tables).to_pylist()
    except pa.ArrowException as e:
        raise ValueError(f"the files under {path} do not share one schema ({str(e).splitlines()[0][:200]})") from None
