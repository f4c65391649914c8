-- Attempts that failed through no fault of the submission (a lost lease, a host-side set-up
-- failure), kept as a JSON list until the job finishes, so a job that gives up says why each
-- attempt failed. A job requeued after a host failure is claimable again from retry_at.
ALTER TABLE submissions ADD COLUMN failures TEXT;
ALTER TABLE submissions ADD COLUMN retry_at BIGINT;
