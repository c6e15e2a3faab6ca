-- Channel epochs and the append-only membership timeline (per device), server-originated
-- proposals, welcome messages, chat envelopes (messages) and the transactional event outbox.
-- Payloads are opaque to the server: stored as the base64 text the client sent.
-- Timestamps are BIGINT unix milliseconds.

-- Per-channel message sequence; bumped (row-locked) by every send, so history is in commit order.
-- `channels.epoch` (0001) is the current epoch, advanced by accepted commits.
ALTER TABLE channels ADD COLUMN last_message_seq BIGINT NOT NULL DEFAULT 0;

-- Accepted membership commits: the one commit that moved the channel to `epoch` (claimed + 1).
CREATE TABLE membership_commits (
    channel_id       TEXT   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    epoch            BIGINT NOT NULL,
    sender_user_id   TEXT   NOT NULL,
    sender_device_id TEXT   NOT NULL,
    commit_data      TEXT   NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (channel_id, epoch),
    FOREIGN KEY (sender_user_id, sender_device_id) REFERENCES devices (user_id, device_id)
);

-- Append-only: one row per device added or removed by the commit that created `epoch`.
CREATE TABLE membership_timeline (
    channel_id  TEXT   NOT NULL,
    epoch       BIGINT NOT NULL,
    user_id     TEXT   NOT NULL,
    device_id   TEXT   NOT NULL,
    change_kind TEXT   NOT NULL CHECK (change_kind IN ('add', 'remove')),
    PRIMARY KEY (channel_id, epoch, user_id, device_id),
    FOREIGN KEY (channel_id, epoch) REFERENCES membership_commits (channel_id, epoch) ON DELETE CASCADE,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
);

-- Derived from the timeline: a device is a member at epoch e when a span has
-- joined_epoch <= e AND (left_epoch IS NULL OR left_epoch > e).
CREATE TABLE channel_device_spans (
    channel_id   TEXT   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id      TEXT   NOT NULL,
    device_id    TEXT   NOT NULL,
    joined_epoch BIGINT NOT NULL,
    left_epoch   BIGINT NULL,
    PRIMARY KEY (channel_id, user_id, device_id, joined_epoch),
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
);

-- "Members at epoch e" and "current members" (left_epoch IS NULL).
CREATE INDEX channel_device_spans_epoch_idx ON channel_device_spans (channel_id, joined_epoch, left_epoch);
-- "Channels of this device".
CREATE INDEX channel_device_spans_device_idx ON channel_device_spans (user_id, device_id);

-- Server-originated proposals (a removal decided by moderation, a revoked device): pending until
-- an accepted commit references them.
CREATE TABLE membership_proposals (
    id              TEXT   NOT NULL PRIMARY KEY,
    channel_id      TEXT   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    kind            TEXT   NOT NULL CHECK (kind IN ('remove')),
    user_id         TEXT   NOT NULL,
    device_id       TEXT   NOT NULL,
    reason          TEXT   NULL,
    created_at      BIGINT NOT NULL,
    -- NULL while pending; the epoch whose commit carried it out.
    committed_epoch BIGINT NULL,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
);

CREATE INDEX membership_proposals_pending_idx ON membership_proposals (channel_id, committed_epoch);

-- Welcome messages for devices added by a commit; stored in the commit's transaction, so they
-- exist only once the commit is accepted.
CREATE TABLE welcome_messages (
    channel_id TEXT   NOT NULL,
    epoch      BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    device_id  TEXT   NOT NULL,
    welcome    TEXT   NOT NULL,
    PRIMARY KEY (channel_id, epoch, user_id, device_id),
    FOREIGN KEY (channel_id, epoch) REFERENCES membership_commits (channel_id, epoch) ON DELETE CASCADE,
    FOREIGN KEY (user_id, device_id) REFERENCES devices (user_id, device_id)
);

CREATE INDEX welcome_messages_device_idx ON welcome_messages (user_id, device_id, channel_id);

-- Chat envelopes: messages, edits, deletes (tombstones) and reactions, all opaque.
CREATE TABLE messages (
    id                TEXT   NOT NULL PRIMARY KEY,
    channel_id        TEXT   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq               BIGINT NOT NULL,
    epoch             BIGINT NOT NULL,
    sender_user_id    TEXT   NOT NULL,
    sender_device_id  TEXT   NOT NULL,
    client_message_id TEXT   NOT NULL,
    content_type      TEXT   NOT NULL CHECK (content_type IN ('message', 'edit', 'delete', 'reaction')),
    refers_to         TEXT   NULL REFERENCES messages (id),
    -- NULL once a delete envelope tombstoned it.
    ciphertext        TEXT   NULL,
    -- Small authenticated metadata, a JSON object (text).
    metadata          TEXT   NOT NULL,
    created_at        BIGINT NOT NULL,
    deleted_at        BIGINT NULL,
    FOREIGN KEY (sender_user_id, sender_device_id) REFERENCES devices (user_id, device_id)
);

-- History pages (both directions) and the per-channel order.
CREATE UNIQUE INDEX messages_channel_seq_idx ON messages (channel_id, seq);
-- Idempotent sends: one row per client message id and sender device.
CREATE UNIQUE INDEX messages_client_id_idx
    ON messages (channel_id, sender_user_id, sender_device_id, client_message_id);

-- The outbox's single counter row: every event-writing transaction bumps it last, so event ids
-- are assigned in commit order and a reader tailing `id > last` never skips one.
CREATE TABLE outbox_counter (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_id BIGINT  NOT NULL
);
INSERT INTO outbox_counter (id, last_id) VALUES (1, 0);

-- Realtime events, written in the same transaction as the state change they describe.
-- `audience` says who receives it: channel_epoch (devices that are members of channel_id at
-- epoch), channel_commit (members at epoch - 1 or epoch), device (user_id/device_id),
-- user_peers (users sharing a server with user_id).
CREATE TABLE outbox (
    id         BIGINT NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    audience   TEXT   NOT NULL CHECK (audience IN ('channel_epoch', 'channel_commit', 'device', 'user_peers')),
    channel_id TEXT   NULL,
    epoch      BIGINT NULL,
    user_id    TEXT   NULL,
    device_id  TEXT   NULL,
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
