"""An order listing tool whose output is big enough to be crushed: 500 plain rows."""

from __future__ import annotations

import json
from typing import Any

ORDERS: list[dict[str, Any]] = [
    {"id": i, "customer": f"cust_{i % 37}", "amount": (i * 7) % 500, "status": "paid"}
    for i in range(1, 501)
]
ORDER_200 = ORDERS[199]
QUESTION = "Summarise our recent orders."


def list_orders_output() -> str:
    """What the ``list_orders`` tool returns."""
    return json.dumps(ORDERS, indent=2)
