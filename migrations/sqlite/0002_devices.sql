-- Devices of a user. A device id is chosen by the client (the `did` claim of its access token) and is
-- unique per user. Everything addressed to a device (key envelopes, key packages, membership) refers
-- to (user_id, device_id).

CREATE TABLE devices (
    user_id      TEXT   NOT NULL,
    device_id    TEXT   NOT NULL,
    name         TEXT   NULL,
    created_at   BIGINT NOT NULL,
    -- NULL while the device is active.
    revoked_at   BIGINT NULL,
    last_seen_at BIGINT NULL,
    PRIMARY KEY (user_id, device_id)
);

-- "Active devices of a user" (the per-user device cap).
CREATE INDEX devices_user_active_idx ON devices (user_id, revoked_at);
