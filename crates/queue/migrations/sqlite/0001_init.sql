-- Submissions are the jobs: one row per submission, its queue state and its one result.
CREATE TABLE submissions (
    id               TEXT PRIMARY KEY,
    exercise_id      TEXT NOT NULL,
    exercise_hash    TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    payload          BLOB NOT NULL,
    created_at       INTEGER NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'finished')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL CHECK (max_attempts >= 1),
    fencing_token    INTEGER NOT NULL DEFAULT 0,
    worker_id        TEXT,
    lease_expires_at INTEGER,
    started_at       INTEGER,
    finished_at      INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    result           TEXT,
    score            INTEGER,
    log_seq          INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX submissions_queued ON submissions (created_at, id) WHERE state = 'queued';
CREATE INDEX submissions_running ON submissions (lease_expires_at) WHERE state = 'running';
CREATE INDEX submissions_session_active ON submissions (session_id) WHERE state <> 'finished';
CREATE INDEX submissions_board ON submissions (exercise_id, display_name, score DESC, created_at)
    WHERE score IS NOT NULL;

-- State changes, log lines and the result of a submission, numbered 1, 2, 3, ... per submission.
CREATE TABLE submission_events (
    submission_id TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    kind          TEXT NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (submission_id, seq)
) WITHOUT ROWID;

-- Live workers and the exercise versions (content hashes) each one holds.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE TABLE worker_versions (
    worker_id     TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
    exercise_hash TEXT NOT NULL,
    PRIMARY KEY (worker_id, exercise_hash)
) WITHOUT ROWID;
