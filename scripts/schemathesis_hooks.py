"""Hooks of the API contract run (scripts/schemathesis.sh loads them with SCHEMATHESIS_HOOKS).

The two WebSocket routes (`GET /v1/realtime`, `GET /v1/rtc/signaling`) answer a well-formed
handshake with 101 Switching Protocols, after which the connection speaks WebSocket, not HTTP.
`requests` does not know that: it returns the connection to its pool, and the next request sent
on it reads WebSocket frames as its answer ("connection aborted"). This drops the pooled
connections after every 101, so each upgraded connection is closed and never reused.
"""

import requests.adapters
import schemathesis

_send = requests.adapters.HTTPAdapter.send


def _send_then_drop_upgraded(self, request, *args, **kwargs):
    response = _send(self, request, *args, **kwargs)
    if response.status_code == 101:
        # The body of a 1xx answer is empty: nothing is lost. Closing the pools closes the
        # upgraded connection when `requests` hands it back.
        self.close()
    return response


requests.adapters.HTTPAdapter.send = _send_then_drop_upgraded


# The run's own device: `DELETE /v1/devices/{device_id}` would revoke it, and every later request
# would then be answered 403 device_revoked (correctly), leaving the rest of the run untested.
# Revoking it is tested in control/tests/access.rs; here any other id is tried instead.
OWN_DEVICE = "st1"


@schemathesis.hook
def before_call(context, case, kwargs):
    if (
        case.method.upper() == "DELETE"
        and case.path == "/v1/devices/{device_id}"
        and (case.path_parameters or {}).get("device_id") == OWN_DEVICE
    ):
        case.path_parameters["device_id"] = OWN_DEVICE + "-other"
