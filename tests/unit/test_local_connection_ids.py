"""The local WebSocket API's connection ids go into @connections paths unquoted, as
clients put API Gateway's there: no id may hold a character a path splits on."""

from __future__ import annotations

import re

from tether_dev.local.websocket import _CONNECTIONS_PATH, _connection_id


def test_every_connection_id_is_one_path_segment() -> None:
    ids = {_connection_id() for _ in range(2000)}
    assert len(ids) == 2000
    for connection_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9]{11}=", connection_id)
        assert _CONNECTIONS_PATH.fullmatch(f"/@connections/{connection_id}")
