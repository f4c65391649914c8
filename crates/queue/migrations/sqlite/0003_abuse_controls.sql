-- Per-address caps count a submission by its client key: the IPv4 address, or the IPv6
-- network (a /64 by default) the address belongs to.
ALTER TABLE submissions ADD COLUMN client_key TEXT NOT NULL DEFAULT '';
UPDATE submissions SET client_key = client_ip;
CREATE INDEX submissions_client_active ON submissions (client_key) WHERE state <> 'finished';

-- A display name belongs to the session that first submitted under it; name_key is the
-- name in lower case (names are ASCII). Names already in use go to the session of their
-- earliest submission.
CREATE TABLE display_names (
    name_key   TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    claimed_at INTEGER NOT NULL
);
INSERT INTO display_names (name_key, session_id, claimed_at)
SELECT name_key, session_id, created_at FROM (
    SELECT lower(display_name) AS name_key, session_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY lower(display_name) ORDER BY created_at, id) AS first
    FROM submissions
) WHERE first = 1;
