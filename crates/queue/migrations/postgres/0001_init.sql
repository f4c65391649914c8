-- Submissions are the jobs: one row per submission, its queue state and its one result.
CREATE TABLE submissions (
    id               TEXT PRIMARY KEY,
    exercise_id      TEXT NOT NULL,
    exercise_hash    TEXT NOT NULL,
    display_name     TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    client_ip        TEXT NOT NULL,
    payload          BYTEA NOT NULL,
    created_at       BIGINT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'running', 'finished')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL CHECK (max_attempts >= 1),
    fencing_token    BIGINT NOT NULL DEFAULT 0,
    worker_id        TEXT,
    lease_expires_at BIGINT,
    started_at       BIGINT,
    finished_at      BIGINT,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    result           TEXT,
    score            BIGINT,
    log_seq          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX submissions_queued ON submissions (created_at, id) WHERE state = 'queued';
CREATE INDEX submissions_running ON submissions (lease_expires_at) WHERE state = 'running';
CREATE INDEX submissions_session_active ON submissions (session_id) WHERE state <> 'finished';
CREATE INDEX submissions_board ON submissions (exercise_id, display_name, score DESC, created_at)
    WHERE score IS NOT NULL;

-- State changes, log lines and the result of a submission, numbered 1, 2, 3, ... per submission.
CREATE TABLE submission_events (
    submission_id TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    at            BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    data          TEXT NOT NULL,
    PRIMARY KEY (submission_id, seq)
);

-- Live workers and the exercise versions (content hashes) each one holds.
CREATE TABLE workers (
    id           TEXT PRIMARY KEY,
    started_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE TABLE worker_versions (
    worker_id     TEXT NOT NULL REFERENCES workers (id) ON DELETE CASCADE,
    exercise_hash TEXT NOT NULL,
    PRIMARY KEY (worker_id, exercise_hash)
);

-- Wake-ups: workers LISTEN on gauntlet_jobs (a job became claimable), event streams on
-- gauntlet_events (payload: the submission id). Notifications go out at commit.
CREATE FUNCTION gauntlet_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'queued' THEN
        PERFORM pg_notify('gauntlet_jobs', '');
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER submissions_notify_job
    AFTER INSERT OR UPDATE OF state ON submissions
    FOR EACH ROW EXECUTE FUNCTION gauntlet_notify_job();

CREATE FUNCTION gauntlet_notify_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gauntlet_events', NEW.submission_id);
    RETURN NULL;
END $$;
CREATE TRIGGER submission_events_notify
    AFTER INSERT ON submission_events
    FOR EACH ROW EXECUTE FUNCTION gauntlet_notify_event();
