// The learner's display name: generated on the first visit (`learner-` and six random characters), kept in
// localStorage, shown in the header with a "Change name" button that opens a small
// dialog. The server binds a name to the first session that submits under it; a 409 on
// submit reopens the dialog (see pages/exercise.ts).

import { getSession } from "./api";
import { h, replace, uid } from "./dom";

const KEY = "gauntlet:display-name";
/** The server's rule (docs/api.md "Display names"), checked here to answer at once. */
const PATTERN = /^[A-Za-z0-9]([A-Za-z0-9 _.-]{0,30}[A-Za-z0-9])?$/;
const RESERVED = new Set([
  "admin", "administrator", "root", "system", "gauntlet", "moderator", "mod", "staff",
  "support", "operator", "anonymous", "null", "undefined", "none", "nobody",
]);

let name = "";
const listeners = new Set<(name: string) => void>();

/**
 * `learner-` and six random base-36 characters (about 2×10⁹ names), so that two
 * learners who never pick a name almost never draw the same one.
 */
function generate(): string {
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz";
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return `learner-${Array.from(bytes, (b) => digits[b % 36]).join("")}`;
}

/** Whether the current name is one this page made up, not one the learner chose. */
let generated = false;

/**
 * After a 409 on a name the learner never chose: draws another one and says whether
 * it did (then the submission can be sent again as it is). A chosen name is the
 * learner's to change: false.
 */
export function replaceGeneratedName(): boolean {
  if (!generated) return false;
  setName(generate());
  generated = true;
  return true;
}

function load(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the name lives for this page only
  }
}

function store(value: string): void {
  try {
    localStorage.setItem(KEY, value);
  } catch {
    /* see load() */
  }
}

export function displayName(): string {
  return name;
}

export function onNameChange(fn: (name: string) => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setName(value: string): void {
  name = value;
  generated = false;
  store(value);
  for (const fn of listeners) fn(value);
}

/** Why `value` is not a valid display name, or null when it is. */
export function validateName(value: string): string | null {
  if (value.length === 0) return "Enter a name.";
  if (value.length > 32) return "A name has at most 32 characters.";
  if (!PATTERN.test(value)) {
    return "Use letters, digits, spaces, _ - and . only, starting and ending with a letter or digit.";
  }
  if (RESERVED.has(value.toLowerCase())) return `“${value}” is reserved: choose another name.`;
  return null;
}

let dialog: HTMLDialogElement;
let input: HTMLInputElement;
let errorEl: HTMLElement;
let noteEl: HTMLElement;
let opener: HTMLElement | null = null;

/**
 * Sets up the name: from localStorage, else the newest name the session already owns
 * (a learner who cleared storage but kept the cookie), else a generated one. Renders
 * the header widget into `widget`.
 */
export function initName(widget: HTMLElement): void {
  const stored = load();
  name = stored && validateName(stored) === null ? stored : generate();
  generated = /^learner-[0-9a-z]{4,6}$/.test(name);
  if (!stored) {
    store(name);
    getSession()
      .then((s) => {
        const newest = s.display_names[s.display_names.length - 1];
        if (newest && load() === name) setName(newest);
      })
      .catch(() => {});
  }

  const label = h("span", { class: "name-label" });
  const showName = () => replace(label, "Name: ", h("strong", null, name));
  showName();
  onNameChange(showName);
  const button = h("button", { type: "button", class: "button-secondary small", onclick: () => openNameDialog() }, "Change name");
  replace(widget, label, button);

  const titleId = uid("name-title");
  const inputId = uid("name-input");
  const errId = uid("name-error");
  const hintId = uid("name-hint");
  input = h("input", {
    id: inputId,
    type: "text",
    name: "display_name",
    autocomplete: "nickname",
    spellcheck: "false",
    maxlength: 32,
    required: true,
    "aria-describedby": `${hintId} ${errId}`,
  });
  errorEl = h("p", { id: errId, class: "field-error", "aria-live": "assertive" });
  noteEl = h("p", { class: "dialog-note" });
  const form = h(
    "form",
    { class: "name-form", novalidate: true, onsubmit: onSave },
    h("label", { for: inputId }, "Display name"),
    input,
    h("p", { id: hintId, class: "hint" },
      "Up to 32 characters: letters, digits, spaces, _ - and . (starting and ending with a letter or digit). It is shown on the leaderboard, and the first person to submit under a name keeps it."),
    errorEl,
    h("div", { class: "button-row" },
      h("button", { type: "submit", class: "button-primary" }, "Save name"),
      h("button", { type: "button", class: "button-secondary", onclick: () => dialog.close() }, "Cancel"),
    ),
  );
  dialog = h("dialog", { class: "name-dialog", "aria-labelledby": titleId },
    h("h2", { id: titleId }, "Your name on the leaderboard"), noteEl, form);
  dialog.addEventListener("close", () => {
    opener?.focus();
    opener = null;
  });
  document.body.appendChild(dialog);
}

function onSave(ev: Event): void {
  ev.preventDefault();
  const value = input.value.trim();
  const problem = validateName(value);
  if (problem) {
    errorEl.textContent = problem;
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  setName(value);
  dialog.close();
}

/** Opens the name dialog; `note` explains why (e.g. the name was taken). */
export function openNameDialog(note = "", returnFocus?: HTMLElement): void {
  const active = document.activeElement;
  opener = returnFocus ?? (active instanceof HTMLElement && active !== document.body ? active : null);
  input.value = name;
  input.removeAttribute("aria-invalid");
  errorEl.textContent = "";
  noteEl.textContent = note;
  noteEl.hidden = !note;
  getSession()
    .then((s) => {
      const others = s.display_names.filter((n) => n.toLowerCase() !== name.toLowerCase());
      if (others.length && !note) {
        noteEl.textContent = `Names you have used before: ${others.join(", ")}.`;
        noteEl.hidden = false;
      }
    })
    .catch(() => {});
  if (!dialog.open) dialog.showModal();
  input.select();
}
