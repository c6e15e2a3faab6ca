-- Moderation: each server's policy, cases with report bundles, the actions taken, proposals and
-- their votes, the restrictions in force (timeouts and server mutes) and the append-only audit log.

CREATE TABLE moderation_policies (
    server_id  TEXT   NOT NULL PRIMARY KEY REFERENCES servers (id) ON DELETE CASCADE,
    -- The policy, a JSON object (control/src/moderation/policy.rs); absent = the default policy.
    policy     TEXT   NOT NULL,
    updated_by TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE moderation_cases (
    id             TEXT   NOT NULL PRIMARY KEY,
    server_id      TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    target_user_id TEXT   NOT NULL,
    opened_by      TEXT   NOT NULL,
    reason         TEXT   NOT NULL,
    state          TEXT   NOT NULL CHECK (state IN ('open', 'actioned')),
    -- The reporter's disclosure (a JSON object), or NULL.
    bundle         TEXT   NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Case listing per server (newest first, cursor on created_at and id).
CREATE INDEX moderation_cases_server_idx ON moderation_cases (server_id, created_at, id);

CREATE TABLE moderation_actions (
    id             TEXT   NOT NULL PRIMARY KEY,
    case_id        TEXT   NOT NULL REFERENCES moderation_cases (id) ON DELETE CASCADE,
    server_id      TEXT   NOT NULL,
    kind           TEXT   NOT NULL,
    target_user_id TEXT   NOT NULL,
    -- NULL when a vote carried it out.
    actor_user_id  TEXT   NULL,
    proposal_id    TEXT   NULL,
    -- The action as requested (a JSON object: kind, duration, message id, ...).
    params         TEXT   NOT NULL,
    ends_at        BIGINT NULL,
    created_at     BIGINT NOT NULL
);

CREATE INDEX moderation_actions_case_idx ON moderation_actions (case_id, created_at);

CREATE TABLE moderation_proposals (
    id         TEXT   NOT NULL PRIMARY KEY,
    case_id    TEXT   NOT NULL REFERENCES moderation_cases (id) ON DELETE CASCADE,
    server_id  TEXT   NOT NULL,
    -- The action it carries (a JSON object).
    action     TEXT   NOT NULL,
    state      TEXT   NOT NULL CHECK (state IN ('open', 'executed', 'expired')),
    created_by TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT NULL,
    -- The action it executed.
    action_id  TEXT   NULL
);

-- Open proposals past their lifetime.
CREATE INDEX moderation_proposals_open_idx ON moderation_proposals (state, expires_at);

CREATE TABLE moderation_votes (
    proposal_id TEXT   NOT NULL REFERENCES moderation_proposals (id) ON DELETE CASCADE,
    voter       TEXT   NOT NULL,
    -- 1 for, 0 against.
    approve     BIGINT NOT NULL,
    voted_at    BIGINT NOT NULL,
    PRIMARY KEY (proposal_id, voter)
);

-- Restrictions in force: a timeout (no sending, no joining) or a server mute, until a time
-- (NULL: until lifted).
CREATE TABLE moderation_restrictions (
    server_id TEXT   NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    user_id   TEXT   NOT NULL,
    kind      TEXT   NOT NULL CHECK (kind IN ('timeout', 'mute')),
    until     BIGINT NULL,
    action_id TEXT   NOT NULL,
    PRIMARY KEY (server_id, user_id, kind)
);

-- Restrictions that lapse.
CREATE INDEX moderation_restrictions_until_idx ON moderation_restrictions (kind, until);

-- Append-only: one row per policy change, case, action, proposal, vote and expiry.
CREATE TABLE moderation_audit (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    server_id  TEXT   NOT NULL,
    -- NULL for what the server did on its own (an expiry, a vote's execution).
    actor      TEXT   NULL,
    kind       TEXT   NOT NULL,
    subject_id TEXT   NOT NULL,
    detail     TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX moderation_audit_server_idx ON moderation_audit (server_id, id);
