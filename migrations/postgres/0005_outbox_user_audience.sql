-- Events addressed to every device of one user (`user`): a device revoked, a membership added or
-- removed. They also tell every node's realtime dispatcher to end or prune live sessions.
ALTER TABLE outbox DROP CONSTRAINT outbox_audience_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_audience_check
    CHECK (audience IN ('channel_epoch', 'channel_commit', 'device', 'user_peers', 'user'));
