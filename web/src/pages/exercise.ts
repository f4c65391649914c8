// `/exercises/<id>`: the statement, the editor (one tab per starter file) or the ZIP
// upload, Submit, the grading of the latest submission, "Your submissions" and the
// exercise's leaderboard. `?submission=<id>` resumes following that submission.

import type { EditorView } from "@codemirror/view";
import type { EditorState } from "@codemirror/state";
import { api, ApiError, type Exercise, type Submission } from "../api";
import { describe } from "../alert";
import { h, markReady, region, setTitle, uid } from "../dom";
import { DraftSaver, loadDraft, saveDraft } from "../drafts";
import { createState, createView, highlightStatic, languageFor, replaceDoc } from "../editor";
import { Grading } from "../grading";
import { History } from "../history";
import { formatBytes, formatSeconds, runtimeName } from "../labels";
import { LeaderboardTable, rememberExercise } from "../leaderboard";
import { displayName } from "../name";
import type { Cleanup, PageContext } from "../router";
import { Submitter } from "../submitting";
import { zipFiles } from "../zip";

export async function exercisePage({ main, params, url, signal }: PageContext): Promise<Cleanup | void> {
  const id = params.id!;
  setTitle("Exercise");
  const loading = h("p", { class: "muted" }, "Loading the exercise…");
  main.append(loading);

  const resumeId = url.searchParams.get("submission");
  let ex: Exercise;
  let resume: Submission | null = null;
  try {
    [ex, resume] = await Promise.all([
      api.exercise(id),
      resumeId ? api.submission(resumeId).catch(() => null) : Promise.resolve(null),
    ]);
  } catch (err) {
    if (signal.aborted) return;
    loading.remove();
    const notFound = err instanceof ApiError && err.status === 404;
    setTitle(notFound ? "Exercise not found" : "Error");
    main.append(
      h("h1", { tabindex: -1 }, notFound ? "Exercise not found" : "This exercise could not be loaded"),
      h("div", { role: "alert", class: "alert" }, h("p", null, notFound ? `There is no exercise “${id}” on this server.` : describe(err).message)),
    );
    markReady();
    return;
  }
  if (signal.aborted) return;
  loading.remove();
  setTitle(ex.title);
  rememberExercise(ex.id);

  const cleanups: Cleanup[] = [];
  const grading = new Grading({
    onResult: () => {
      void leaderboard.load(ex.id);
      void history.load();
    },
  });
  cleanups.push(() => grading.stop());
  const history = new History(ex.id);
  const leaderboard = new LeaderboardTable();

  const submitter = new Submitter(
    async () => (archive ? archive.send() : files!.send()),
    (sid) => {
      history.current = sid;
      window.history.replaceState(null, "", `/exercises/${encodeURIComponent(ex.id)}?submission=${encodeURIComponent(sid)}`);
      grading.follow(sid);
      void history.load();
    },
  );

  cleanups.push(() => submitter.alert.clear());
  const files = ex.submission === "files" ? filesWork(ex, submitter, cleanups) : null;
  const archive = ex.submission === "archive" ? archiveWork(ex, submitter) : null;

  const { section: statement } = region("Statement", "h2", { class: "statement" }, statementBody(ex));
  const { section: work } = region(
    ex.submission === "archive" ? "Your archive" : "Your code",
    "h2",
    { class: "work" },
    ex.available ? null : h("p", { class: "unavailable" }, `Not available right now: ${ex.unavailable_reason ?? "its runtime is not ready"}. You can still write your code.`),
    (files ?? archive)!.el,
    submitter.alert.el,
    grading.el,
  );
  const { section: board } = region("Leaderboard", "h2", { class: "board-region" }, leaderboard.el);

  main.append(
    h("h1", { tabindex: -1 }, ex.title),
    h("p", { class: "exercise-meta" }, ...metaTags(ex)),
    h("div", { class: "exercise-layout" }, statement, work),
    h("div", { class: "below" }, history.el, board),
  );
  files?.mount();

  void history.load();
  void leaderboard.load(ex.id);
  if (resume && resume.exercise === ex.id) {
    history.current = resume.id;
    grading.follow(resume.id, resume);
  } else if (resumeId) {
    // Unknown, or another exercise's: drop it from the URL.
    window.history.replaceState(null, "", `/exercises/${encodeURIComponent(ex.id)}`);
  }
  markReady();
  return () => cleanups.forEach((c) => c());
}

function metaTags(ex: Exercise): HTMLElement[] {
  const tags = [h("span", { class: "tag" }, runtimeName(ex.runtime))];
  if (ex.submission === "archive") tags.push(h("span", { class: "tag" }, "ZIP upload"));
  if (ex.limits) {
    tags.push(h("span", { class: "muted" }, `Time limit ${formatSeconds(ex.limits.wall_time_ms)}, memory ${formatBytes(ex.limits.memory_bytes)}`));
  }
  return tags;
}

/** The server-sanitised statement, its headings moved below the region's own. */
function statementBody(ex: Exercise): HTMLElement {
  const body = h("div", { class: "prose" });
  if (!ex.statement) {
    body.append(h("p", { class: "muted" }, "This exercise has no written statement: the comments in the starter files say what to do."));
    return body;
  }
  // Sanitised by the server (no raw HTML passes its Markdown renderer).
  body.innerHTML = ex.statement.html;
  // A statement usually opens with the title as `# …`: the page's h1 says it already.
  const first = body.firstElementChild;
  if (first?.tagName === "H1" && first.textContent?.trim() === ex.title.trim()) first.remove();
  // The page has one h1 and the region an h2: the statement's top level becomes h3,
  // and the levels below it follow without gaps in between.
  const headings = Array.from(body.querySelectorAll("h1, h2, h3, h4, h5, h6"));
  const top = Math.min(...headings.map((el) => Number(el.tagName[1])));
  for (const old of headings) {
    const level = Math.min(6, Number(old.tagName[1]) - top + 3);
    const heading = document.createElement(`h${level}`);
    heading.append(...Array.from(old.childNodes));
    old.replaceWith(heading);
  }
  // Code blocks scroll sideways in their own box: focusable, so the keyboard can too.
  for (const pre of Array.from(body.querySelectorAll("pre"))) pre.tabIndex = 0;
  for (const code of Array.from(body.querySelectorAll<HTMLElement>("pre > code"))) highlightStatic(code);
  // Wide tables scroll inside a focusable box rather than widening the page.
  for (const table of Array.from(body.querySelectorAll("table"))) {
    const box = h("div", { class: "table-scroll", tabindex: 0, role: "group", "aria-label": "Table" });
    table.replaceWith(box);
    box.append(table);
  }
  return body;
}

interface FileState {
  path: string;
  starter: string;
  maxBytes: number;
  state: EditorState;
  tab: HTMLButtonElement;
}

/** The editor, its tabs, Submit and "Reset to starter". */
function filesWork(ex: Exercise, submitter: Submitter, cleanups: Cleanup[]) {
  const hintId = uid("editor-hint");
  const panelId = uid("panel");
  const saver = new DraftSaver();
  const draftNote = h("p", { class: "draft-note muted" });
  let view: EditorView | null = null;
  let active = 0;

  const restored: string[] = [];
  const files: FileState[] = ex.starter_files.map((f, i) => {
    const draft = loadDraft(ex.id, f.path);
    if (draft !== null && draft !== f.content) restored.push(f.path);
    const path = f.path;
    return {
      path,
      starter: f.content,
      maxBytes: f.max_bytes,
      state: createState({
        path,
        doc: draft ?? f.content,
        hintId,
        onSubmit: () => void submitter.submit(),
        onChange: (doc) => {
          saver.schedule(path, () => {
            const ok = saveDraft(ex.id, path, doc, f.content);
            draftNote.textContent = ok ? "Draft saved in this browser." : "This browser did not let the draft be saved.";
          });
        },
      }),
      tab: h(
        "button",
        {
          type: "button",
          role: "tab",
          id: uid("tab"),
          class: "tab",
          "aria-controls": panelId,
          "aria-selected": i === 0 ? "true" : "false",
          tabindex: i === 0 ? 0 : -1,
          title: languageFor(path)?.name ?? "Plain text",
        },
        path,
      ),
    };
  });
  draftNote.textContent = restored.length ? `Your draft of ${restored.join(", ")} was restored from this browser.` : "";

  const tablist = h("div", { role: "tablist", "aria-label": "Files", class: "tabs" }, ...files.map((f) => f.tab));
  const panel = h("div", { role: "tabpanel", id: panelId, class: "editor-panel", "aria-labelledby": files[0]?.tab.id ?? "" });

  function select(i: number, focus: boolean): void {
    if (!view || i === active) {
      if (focus) files[i]?.tab.focus();
      return;
    }
    files[active]!.state = view.state;
    active = i;
    view.setState(files[i]!.state);
    files.forEach((f, j) => {
      f.tab.setAttribute("aria-selected", j === i ? "true" : "false");
      f.tab.tabIndex = j === i ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", files[i]!.tab.id);
    if (focus) files[i]!.tab.focus();
  }

  files.forEach((f, i) => f.tab.addEventListener("click", () => select(i, false)));
  // The ARIA tabs pattern: arrows move between tabs (and select them), Home/End jump.
  tablist.addEventListener("keydown", (e) => {
    const n = files.length;
    const moves: Record<string, number> = { ArrowRight: (active + 1) % n, ArrowLeft: (active - 1 + n) % n, Home: 0, End: n - 1 };
    const to = moves[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(to, true);
  });

  const reset = h(
    "button",
    {
      type: "button",
      class: "button-secondary",
      onclick: () => {
        if (!view) return;
        files[active]!.state = view.state;
        files.forEach((f, i) => {
          saver.cancel(f.path);
          saveDraft(ex.id, f.path, f.starter, f.starter);
          if (f.state.doc.toString() === f.starter) return;
          // One undoable change per file: Ctrl-Z in the editor brings the draft back.
          if (i === active) view!.dispatch({ changes: { from: 0, to: view!.state.doc.length, insert: f.starter } });
          else f.state = replaceDoc(f.state, f.starter);
        });
        draftNote.textContent = "Reset to the starter code. Undo (Ctrl+Z in the editor) brings your draft back.";
      },
    },
    "Reset to starter",
  );

  const flush = () => saver.flush();
  window.addEventListener("pagehide", flush);
  cleanups.push(() => {
    window.removeEventListener("pagehide", flush);
    saver.flush();
    view?.destroy();
  });

  const el = h(
    "div",
    { class: "files-work" },
    tablist,
    panel,
    h("p", { id: hintId, class: "hint" }, "Tab indents. To leave the editor with the keyboard, press Escape, then Tab. Ctrl+Enter submits."),
    h("div", { class: "actions" }, submitter.button, reset),
    draftNote,
  );

  return {
    el,
    /** Creates the editor once the panel is in the document. */
    mount(): void {
      if (files[0]) view = createView(panel, files[0].state);
    },
    async send() {
      if (!view) return null;
      files[active]!.state = view.state;
      const body: Record<string, string> = {};
      const encoder = new TextEncoder();
      for (const f of files) {
        const text = f.state.doc.toString();
        const bytes = encoder.encode(text).length;
        if (bytes > f.maxBytes) {
          // Rounded sizes can read the same ("16 KiB over 16 KiB"): then say it in bytes.
          const [size, limit] =
            formatBytes(bytes) === formatBytes(f.maxBytes)
              ? [`${bytes} bytes`, `${f.maxBytes} bytes`]
              : [formatBytes(bytes), formatBytes(f.maxBytes)];
          submitter.problem(`${f.path} is ${size}, over its limit of ${limit}: shorten it, then submit again.`);
          return null;
        }
        body[f.path] = text;
      }
      return api.submitFiles(ex.id, body, displayName());
    },
  };
}

/** The ZIP upload of an archive exercise, with the starter files to read. */
function archiveWork(ex: Exercise, submitter: Submitter) {
  const inputId = uid("zip");
  const input = h("input", { id: inputId, type: "file", accept: ".zip,application/zip", class: "file-input" });
  const starters = ex.starter_files.length
    ? h(
        "div",
        { class: "starter-files" },
        h("p", null, "Upload a ZIP archive of your work. The starter files show the layout the tests expect:"),
        ...ex.starter_files.map((f) => h("details", null, h("summary", null, f.path), h("pre", { class: "code" }, f.content))),
        h(
          "p",
          null,
          h(
            "button",
            {
              type: "button",
              class: "button-secondary small",
              onclick: () => {
                const url = URL.createObjectURL(zipFiles(ex.starter_files));
                const a = h("a", { href: url, download: `${ex.id}-starter.zip`, hidden: true });
                document.body.append(a);
                a.click();
                a.remove();
                setTimeout(() => URL.revokeObjectURL(url), 10_000);
              },
            },
            "Download the starter files (ZIP)",
          ),
        ),
      )
    : null;
  const el = h(
    "div",
    { class: "archive-work" },
    starters,
    h("div", { class: "field" }, h("label", { for: inputId }, "ZIP archive"), input),
    h("div", { class: "actions" }, submitter.button),
  );
  return {
    el,
    async send() {
      const file = input.files?.[0];
      if (!file) {
        submitter.problem("Choose a ZIP archive first.");
        input.focus();
        return null;
      }
      return api.submitArchive(ex.id, file, file.name, displayName());
    },
  };
}
