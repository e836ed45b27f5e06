"""Reading SFT data: local JSONL/JSON/parquet/Arrow files and folders, `save_to_disk` folders and
hub datasets from the local cache, with `messages`, `prompt`/`completion` or ShareGPT rows, as one
normalised conversation shape (see docs/data.md).

Importing this package is cheap: `datasets` is imported only when a source needs it.
"""

from lossmask.data.errors import DataError, DataRowError, DataSourceError, RowRef
from lossmask.data.loading import CONVERSATIONS, TOKENIZED
from lossmask.data.normalize import Conversation, normalize_row
from lossmask.data.parallel import map_chunks
from lossmask.data.sharegpt import SHAREGPT_ROLES
from lossmask.data.source import (
    DataRow,
    DataSource,
    TokenizedRow,
    iter_conversations,
    iter_tokenized,
    load_conversations,
    open_data,
    open_source,
    sample_rows,
    select_rows,
)
from lossmask.data.spec import DataSpec, data_spec

__all__ = [
    "CONVERSATIONS",
    "SHAREGPT_ROLES",
    "TOKENIZED",
    "Conversation",
    "DataError",
    "DataRow",
    "DataRowError",
    "DataSource",
    "DataSourceError",
    "DataSpec",
    "RowRef",
    "TokenizedRow",
    "data_spec",
    "iter_conversations",
    "iter_tokenized",
    "load_conversations",
    "map_chunks",
    "normalize_row",
    "open_data",
    "open_source",
    "sample_rows",
    "select_rows",
]
