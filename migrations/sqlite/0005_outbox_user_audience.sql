-- Events addressed to every device of one user (`user`): a device revoked, a membership added or
-- removed. They also tell every node's realtime dispatcher to end or prune live sessions.
-- SQLite cannot alter a CHECK constraint: the table is rebuilt with the same rows.
CREATE TABLE outbox_next (
    id         BIGINT NOT NULL PRIMARY KEY,
    kind       TEXT   NOT NULL,
    audience   TEXT   NOT NULL CHECK (audience IN ('channel_epoch', 'channel_commit', 'device', 'user_peers', 'user')),
    channel_id TEXT   NULL,
    epoch      BIGINT NULL,
    user_id    TEXT   NULL,
    device_id  TEXT   NULL,
    payload    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO outbox_next (id, kind, audience, channel_id, epoch, user_id, device_id, payload, created_at)
    SELECT id, kind, audience, channel_id, epoch, user_id, device_id, payload, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_next RENAME TO outbox;
