"""Hooks of the API contract run (scripts/schemathesis.sh loads them with SCHEMATHESIS_HOOKS).

The two WebSocket routes (`GET /v1/realtime`, `GET /v1/rtc/signaling`) answer a well-formed
handshake with 101 Switching Protocols, after which the connection speaks WebSocket, not HTTP.
`requests` does not know that: it returns the connection to its pool, and the next request sent
on it reads WebSocket frames as its answer ("connection aborted"). This drops the pooled
connections after every 101, so each upgraded connection is closed and never reused.
"""

import requests.adapters

_send = requests.adapters.HTTPAdapter.send


def _send_then_drop_upgraded(self, request, *args, **kwargs):
    response = _send(self, request, *args, **kwargs)
    if response.status_code == 101:
        # The body of a 1xx answer is empty: nothing is lost. Closing the pools closes the
        # upgraded connection when `requests` hands it back.
        self.close()
    return response


requests.adapters.HTTPAdapter.send = _send_then_drop_upgraded
