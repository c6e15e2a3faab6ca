-- Communities (invitations), profiles and avatars, device links, key envelopes, key packages and
-- key backups. Payloads are opaque to the server: stored as the base64 text the client sent.
-- Timestamps are BIGINT unix milliseconds; flags are BIGINT 0/1 so both databases read them alike.

-- Invitations to a server: an unguessable token, optional expiry and use limit, revocable.
CREATE TABLE invitations (
    token      TEXT   NOT NULL PRIMARY KEY,
    server_id  TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- NULL = unlimited.
    max_uses   BIGINT NULL CHECK (max_uses IS NULL OR max_uses > 0),
    uses       BIGINT NOT NULL DEFAULT 0,
    revoked_at BIGINT NULL,
    FOREIGN KEY (server_id, created_by) REFERENCES members (server_id, user_id) ON DELETE CASCADE
);

-- "Invitations of a server", newest first.
CREATE INDEX invitations_server_idx ON invitations (server_id, created_at);

-- Avatar images, content-addressed: the id is the SHA-256 of the bytes (hex); the bytes live in
-- the avatar directory under that name.
CREATE TABLE avatar_assets (
    asset_id     TEXT   NOT NULL PRIMARY KEY,
    content_type TEXT   NOT NULL,
    size_bytes   BIGINT NOT NULL,
    uploaded_by  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL
);

-- A user's public profile (absent row = empty profile).
CREATE TABLE profiles (
    user_id         TEXT   NOT NULL PRIMARY KEY,
    display_name    TEXT   NULL,
    status          TEXT   NULL,
    avatar_asset_id TEXT   NULL REFERENCES avatar_assets (asset_id),
    updated_at      BIGINT NOT NULL
);

-- Single-use codes that link a new device to a user, issued from an existing device.
-- Only the SHA-256 of the code is stored.
CREATE TABLE device_link_codes (
    code_hash      TEXT   NOT NULL PRIMARY KEY,
    user_id        TEXT   NOT NULL,
    issued_by      TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT NULL,
    used_by        TEXT   NULL,
    FOREIGN KEY (user_id, issued_by) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

CREATE INDEX device_link_codes_user_idx ON device_link_codes (user_id, expires_at);

-- To-device key envelopes (opaque, at most 64 KiB decoded). A read leases the pending ones to that
-- reader for a while; an ack (or the next read's cursor) deletes them.
CREATE TABLE key_envelopes (
    id                  BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient_user_id   TEXT    NOT NULL,
    recipient_device_id TEXT    NOT NULL,
    sender_user_id      TEXT    NOT NULL,
    sender_device_id    TEXT    NOT NULL,
    payload             TEXT    NOT NULL,
    created_at          BIGINT  NOT NULL,
    -- Set while a read holds the envelope; it becomes visible again after lease_until.
    lease_id            TEXT    NULL,
    lease_until         BIGINT  NULL,
    FOREIGN KEY (recipient_user_id, recipient_device_id)
        REFERENCES devices (user_id, device_id) ON DELETE CASCADE,
    FOREIGN KEY (sender_user_id, sender_device_id)
        REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- Key packages (MLS-style, opaque) published by a device; claimed one at a time. At most one
-- last-resort package per device, which a claim reuses when no other is left.
CREATE TABLE key_packages (
    id          BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     TEXT    NOT NULL,
    device_id   TEXT    NOT NULL,
    package     TEXT    NOT NULL,
    last_resort BIGINT  NOT NULL DEFAULT 0 CHECK (last_resort IN (0, 1)),
    created_at  BIGINT  NOT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id) ON DELETE CASCADE
);

-- "Pending envelopes of a device, in order" and the lease scan.
CREATE INDEX key_envelopes_recipient_idx
    ON key_envelopes (recipient_user_id, recipient_device_id, id);

-- "Unclaimed packages of a device, oldest first" and the count.
CREATE INDEX key_packages_device_idx ON key_packages (user_id, device_id, last_resort, id);
-- At most one last-resort package per device.
CREATE UNIQUE INDEX key_packages_last_resort_idx ON key_packages (user_id, device_id)
    WHERE last_resort = 1;

-- Versioned opaque key backups of a user; version 1, 2, ... (the first writer of a version wins).
CREATE TABLE key_backups (
    user_id    TEXT   NOT NULL,
    version    BIGINT NOT NULL CHECK (version > 0),
    payload    TEXT   NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, version)
);
