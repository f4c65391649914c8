-- A session's own submissions, newest first (the web app's history and best scores).
CREATE INDEX submissions_session ON submissions (session_id, created_at);
-- The names a session owns.
CREATE INDEX display_names_session ON display_names (session_id);
