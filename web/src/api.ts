// Typed access to Gauntlet's HTTP API (docs/api.md; new endpoints in the web contract).
// Every POST carries the session's CSRF token; errors become `ApiError`s that keep the
// server's code, message and Retry-After so the pages can say something actionable.

export type Runtime = string; // "python" | "node" | "shell" | "hardhat" | future ones
export type SubmissionKind = "files" | "archive";
export type State = "queued" | "running" | "finished";

export interface ExerciseSummary {
  id: string;
  title: string;
  runtime: Runtime;
  submission: SubmissionKind;
  available: boolean;
  unavailable_reason?: string;
}

export interface StarterFile {
  path: string;
  max_bytes: number;
  content: string;
}

export interface Limits {
  wall_time_ms: number;
  idle_timeout_ms: number;
  cpu_time_ms: number;
  memory_bytes: number;
  pids: number;
  output_bytes: number;
}

export interface Exercise extends ExerciseSummary {
  version: string;
  starter_files: StarterFile[];
  statement: { markdown: string; html: string } | null;
  limits?: Limits;
}

export interface Session {
  csrf_token: string;
  display_names: string[];
  best_scores: Record<string, number>;
}

export type TestStatus = "pass" | "fail" | "error" | "skip";
export interface TestResult {
  name: string;
  status: TestStatus;
  message: string | null;
}

export interface GradeResult {
  outcome: string;
  score: number;
  points: number;
  max_points: number;
  tests: TestResult[];
  log: string;
  duration_ms: number;
  reason?: string;
}

export interface Submission {
  id: string;
  exercise: string;
  display_name: string;
  state: State;
  result: GradeResult | null;
  created_at: number;
}

export interface SubmissionSummary {
  id: string;
  exercise: string;
  display_name: string;
  state: State;
  outcome: string | null;
  score: number | null;
  created_at: number;
}

export interface LeaderboardEntry {
  exercise: string;
  display_name: string;
  score: number;
  submission_id: string;
  submitted_at: number;
}

/** An error answer of the API, or a network failure (`status` 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Seconds, from `Retry-After` (429 and 503). */
    readonly retryAfter: number | null = null,
    readonly details: string[] = [],
  ) {
    super(message);
  }
}

const BASE = "/api/v1";

let session: Promise<Session> | null = null;

/** The session, fetched once at start (it also creates the session cookie). */
export function getSession(refresh = false): Promise<Session> {
  if (!session || refresh) {
    const next = request<Session>("GET", "/session");
    // A failed fetch must not stick: the next caller tries again.
    next.catch(() => {
      if (session === next) session = null;
    });
    session = next;
  }
  return session;
}

async function request<T>(
  method: "GET" | "POST",
  path: string,
  body?: BodyInit,
  headers: Record<string, string> = {},
  retried = false,
): Promise<T> {
  const h: Record<string, string> = { Accept: "application/json", ...headers };
  if (method === "POST") h["X-CSRF-Token"] = (await getSession()).csrf_token;
  // Every request waits for the session's: on a first visit, requests sent together
  // would each be given a new session cookie, and the CSRF token would belong to one
  // of them only.
  else if (path !== "/session") await getSession().catch(() => {});
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, body, headers: h, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, "network", "Could not reach the server: check your connection and try again.");
  }
  if (res.ok) return (await res.json()) as T;
  const err = await toError(res);
  // A session that expired between the page load and this POST has a new token now:
  // fetch it and try once more.
  if (err.status === 403 && err.code === "csrf" && method === "POST" && !retried) {
    await getSession(true);
    return request<T>(method, path, body, headers, true);
  }
  throw err;
}

async function toError(res: Response): Promise<ApiError> {
  const ra = res.headers.get("Retry-After");
  const retryAfter = ra !== null && /^\d+$/.test(ra.trim()) ? Number(ra.trim()) : null;
  let code = `http_${res.status}`;
  let message = `The server answered ${res.status} ${res.statusText}.`.replace(" .", ".");
  let details: string[] = [];
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string; details?: string[] } };
    if (body.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
      details = body.error.details ?? [];
    }
  } catch {
    // Not JSON (a proxy's error page): keep the generic message.
  }
  return new ApiError(res.status, code, message, retryAfter, details);
}

const q = encodeURIComponent;

export const api = {
  exercises: () => request<{ exercises: ExerciseSummary[] }>("GET", "/exercises").then((r) => r.exercises),
  exercise: (id: string) => request<Exercise>("GET", `/exercises/${q(id)}`),
  submission: (id: string) => request<Submission>("GET", `/submissions/${q(id)}`),
  mySubmissions: (exercise: string, limit = 50) =>
    request<{ submissions: SubmissionSummary[] }>(
      "GET",
      `/session/submissions?exercise=${q(exercise)}&limit=${limit}`,
    ).then((r) => r.submissions),
  leaderboard: (exercise: string) =>
    request<{ entries: LeaderboardEntry[] }>("GET", `/leaderboard?exercise=${q(exercise)}`).then((r) => r.entries),
  submitFiles: (exercise: string, files: Record<string, string>, displayName: string) =>
    request<{ id: string; state: State }>(
      "POST",
      "/submissions",
      JSON.stringify({ exercise, files, display_name: displayName }),
      { "Content-Type": "application/json" },
    ),
  submitArchive: (exercise: string, archive: Blob, fileName: string, displayName: string) => {
    const form = new FormData();
    form.append("exercise", exercise);
    form.append("display_name", displayName);
    form.append("archive", archive, fileName);
    // No Content-Type: the browser sets multipart/form-data with its boundary.
    return request<{ id: string; state: State }>("POST", "/submissions", form);
  },
  eventsUrl: (id: string) => `${BASE}/submissions/${q(id)}/events`,
};
