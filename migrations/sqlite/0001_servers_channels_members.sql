-- Servers (communities), their channels, members and bans.
-- Ids are TEXT (generated `srv_<random>` / `ch_<random>`, or supplied by the caller).
-- Timestamps are BIGINT unix milliseconds so SQLite and PostgreSQL behave the same.

CREATE TABLE servers (
    id            TEXT    NOT NULL PRIMARY KEY,
    name          TEXT    NOT NULL,
    owner_user_id TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE channels (
    id         TEXT   NOT NULL PRIMARY KEY,
    server_id  TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('text', 'voice', 'video')),
    created_at BIGINT NOT NULL,
    -- Membership epoch of the channel (advanced by membership commits, later work).
    epoch      BIGINT NOT NULL DEFAULT 0
);

-- Channel listing per server, in creation order.
CREATE INDEX channels_server_created_idx ON channels (server_id, created_at);

CREATE TABLE members (
    server_id TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id   TEXT   NOT NULL,
    role      TEXT   NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (server_id, user_id)
);

-- "Servers I am a member of".
CREATE INDEX members_user_idx ON members (user_id);

CREATE TABLE bans (
    server_id  TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL,
    -- NULL = permanent; otherwise the ban ends at this unix millisecond.
    until      BIGINT NULL,
    reason     TEXT   NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (server_id, user_id)
);
