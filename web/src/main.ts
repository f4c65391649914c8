// Entry point: fetches the session (its CSRF token goes on every POST), sets up the
// display name in the header, then routes.

import { getSession } from "./api";
import { initName } from "./name";
import { route, setNotFound, start } from "./router";
import { exercisesPage } from "./pages/exercises";
import { exercisePage } from "./pages/exercise";
import { submissionPage } from "./pages/submission";
import { leaderboardPage } from "./pages/leaderboard";
import { notFoundPage } from "./pages/notfound";

// Start it now: the first page's requests then find the session cookie set.
getSession().catch(() => {});

initName(document.getElementById("name-widget")!);
route("/", exercisesPage);
route("/exercises/:id", exercisePage);
route("/submissions/:id", submissionPage);
route("/leaderboard", leaderboardPage);
setNotFound(notFoundPage);
start(document.getElementById("main")!);
