"""The answer of a stream consumer with `ReportBatchItemFailures` on its event source mapping.

Lambda developer guide, "Configuring partial batch response with DynamoDB and Lambda": the
function returns `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`; an empty list
means the whole batch succeeded; Lambda retries from the smallest sequence number listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def batch_response(failed_sequence_numbers: Iterable[str]) -> dict[str, Any]:
    """The response naming the records to retry (none: the batch is done)."""
    return {"batchItemFailures": [{"itemIdentifier": number}
                                  for number in failed_sequence_numbers]}
