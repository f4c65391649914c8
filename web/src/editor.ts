// The code editor: CodeMirror 6 with line numbers, undo history, bracket matching and
// the file's language, chosen by its extension.
//
// Tab indents (`indentWithTab`), and CodeMirror's documented escape hatch keeps it from
// trapping keyboard users: Escape, then Tab (or Shift-Tab), moves focus out of the
// editor. A hint under the editor says so and is the editor's aria-describedby.

import { EditorState, StateEffect, StateField, type Extension } from "@codemirror/state";
import {
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import {
  defaultKeymap,
  history,
  historyKeymap,
  indentWithTab,
  insertNewlineAndIndent,
} from "@codemirror/commands";
import {
  LanguageSupport,
  StreamLanguage,
  bracketMatching,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
  type Language,
} from "@codemirror/language";
import { highlightCode, tagHighlighter, tags as t } from "@lezer/highlight";
import { pythonLanguage } from "@codemirror/lang-python";
import { javascriptLanguage, typescriptLanguage } from "@codemirror/lang-javascript";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { solidity } from "./solidity";

const shellLanguage = StreamLanguage.define(shell);

/**
 * Token classes (`tok-keyword`, …) rather than inline colours: app.css colours them
 * per theme, so one highlighter serves the light and the dark theme, and every colour
 * is checked for contrast in one place.
 */
const highlighter = tagHighlighter([
  { tag: t.keyword, class: "tok-keyword" },
  { tag: [t.atom, t.bool, t.null, t.self], class: "tok-atom" },
  { tag: [t.string, t.character, t.docString], class: "tok-string" },
  { tag: [t.regexp, t.escape, t.special(t.string)], class: "tok-string2" },
  { tag: [t.number, t.unit], class: "tok-number" },
  { tag: t.comment, class: "tok-comment" },
  { tag: [t.typeName, t.className, t.namespace], class: "tok-type" },
  { tag: [t.definition(t.variableName), t.function(t.definition(t.variableName))], class: "tok-def" },
  { tag: [t.function(t.variableName), t.function(t.propertyName)], class: "tok-function" },
  { tag: [t.standard(t.variableName), t.special(t.variableName)], class: "tok-builtin" },
  { tag: [t.meta, t.annotation, t.processingInstruction], class: "tok-meta" },
  { tag: t.invalid, class: "tok-invalid" },
]);

/** The language and indent unit for a file, by extension; null for plain text. */
export function languageFor(path: string): { language: Language; unit: string; name: string } | null {
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase() ?? "";
  switch (ext) {
    case "py":
      return { language: pythonLanguage, unit: "    ", name: "Python" };
    case "js":
    case "mjs":
    case "cjs":
      return { language: javascriptLanguage, unit: "  ", name: "JavaScript" };
    case "ts":
    case "mts":
    case "cts":
      return { language: typescriptLanguage, unit: "  ", name: "TypeScript" };
    case "sh":
    case "bash":
      return { language: shellLanguage, unit: "  ", name: "Shell" };
    case "sol":
      return { language: solidity, unit: "    ", name: "Solidity" };
    default:
      return null;
  }
}

/**
 * Typed indentation wins over automatic indentation. Enter indents the new line as the
 * language says; if the very next thing typed on that line is whitespace, the learner
 * is indenting by hand (as many do, and as a test typing a file key by key does), so
 * that whitespace replaces the automatic indentation instead of adding to it. Anything
 * else typed, a click or a move keeps the automatic indentation as it is.
 */
const setAutoIndent = StateEffect.define<{ from: number; to: number } | null>();

const autoIndent = StateField.define<{ from: number; to: number } | null>({
  create: () => null,
  update(value, tr) {
    for (const e of tr.effects) if (e.is(setAutoIndent)) return e.value;
    return tr.docChanged || tr.selection ? null : value;
  },
});

function newlineRememberingIndent(view: EditorView): boolean {
  if (!insertNewlineAndIndent(view)) return false;
  const { state } = view;
  const sel = state.selection.main;
  const line = state.doc.lineAt(sel.head);
  const indent = state.sliceDoc(line.from, sel.head);
  if (sel.empty && indent.length > 0 && /^[ \t]+$/.test(indent)) {
    view.dispatch({ effects: setAutoIndent.of({ from: line.from, to: sel.head }) });
  }
  return true;
}

const typedIndentWins = EditorView.inputHandler.of((view, from, to, text) => {
  const auto = view.state.field(autoIndent, false);
  if (!auto || from !== to || from !== auto.to || !/^[ \t]+$/.test(text)) return false;
  view.dispatch({
    changes: { from: auto.from, to: auto.to, insert: text },
    selection: { anchor: auto.from + text.length },
    userEvent: "input.type",
  });
  return true;
});

export interface EditorOptions {
  path: string;
  doc: string;
  /** id of the element that explains Escape-then-Tab. */
  hintId: string;
  onChange: (doc: string) => void;
  /** Ctrl+Enter (Cmd+Enter on a Mac): submit without leaving the editor. */
  onSubmit?: () => void;
}

/**
 * A state per file: switching tabs swaps whole states, so each file keeps its own undo
 * history, selection and language.
 */
export function createState(opts: EditorOptions): EditorState {
  const lang = languageFor(opts.path);
  const extensions: Extension[] = [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    indentOnInput(),
    autoIndent,
    typedIndentWins,
    bracketMatching(),
    syntaxHighlighting(highlighter),
    highlightActiveLine(),
    keymap.of([
      { key: "Mod-Enter", run: () => (opts.onSubmit?.(), opts.onSubmit !== undefined) },
      { key: "Enter", run: newlineRememberingIndent },
      ...defaultKeymap,
      ...historyKeymap,
      indentWithTab,
    ]),
    EditorState.tabSize.of(4),
    indentUnit.of(lang?.unit ?? "    "),
    EditorView.contentAttributes.of({
      "aria-label": `Code editor: ${opts.path}`,
      "aria-describedby": opts.hintId,
      // Already focusable (contenteditable); said explicitly for checkers such as axe,
      // which otherwise find the scroller around it without keyboard access.
      tabindex: "0",
      spellcheck: "false",
      autocapitalize: "off",
      autocorrect: "off",
    }),
    // Text inserted as one input event across lines (Playwright's fill, dictation, some
    // IMEs: text with line breaks, or replacing a selection over several lines) is
    // applied by CodeMirror, not by the browser's own editing, which would put `style`
    // attributes on the lines it merges or makes and so trip the page's CSP.
    EditorView.domEventHandlers({
      beforeinput(e, view) {
        if (e.inputType !== "insertText" && e.inputType !== "insertReplacementText") return false;
        const text = e.data ?? e.dataTransfer?.getData("text/plain") ?? null;
        if (text === null) return false;
        const { from, to } = replacedRange(view, e);
        const doc = view.state.doc;
        if (!/[\r\n]/.test(text) && doc.lineAt(from).number === doc.lineAt(to).number) return false;
        e.preventDefault();
        const insert = text.replace(/\r\n?/g, "\n");
        view.dispatch({
          changes: { from, to, insert },
          selection: { anchor: from + insert.length },
          scrollIntoView: true,
          userEvent: "input.type",
        });
        return true;
      },
    }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) opts.onChange(u.state.doc.toString());
    }),
  ];
  if (lang) extensions.push(new LanguageSupport(lang.language));
  return EditorState.create({ doc: opts.doc, extensions });
}

/**
 * What an input event replaces, in document positions: its target range, else the DOM
 * selection. Not CodeMirror's own selection, which catches up with a selection the
 * browser just made only at the next selectionchange event.
 */
function replacedRange(view: EditorView, e: InputEvent): { from: number; to: number } {
  const target = e.getTargetRanges()[0];
  if (target) {
    return {
      from: view.posAtDOM(target.startContainer, target.startOffset),
      to: view.posAtDOM(target.endContainer, target.endOffset),
    };
  }
  const sel = document.getSelection();
  const content = view.contentDOM;
  if (sel?.anchorNode && sel.focusNode && content.contains(sel.anchorNode) && content.contains(sel.focusNode)) {
    const a = view.posAtDOM(sel.anchorNode, sel.anchorOffset);
    const b = view.posAtDOM(sel.focusNode, sel.focusOffset);
    return { from: Math.min(a, b), to: Math.max(a, b) };
  }
  return view.state.selection.main;
}

export function createView(parent: HTMLElement, state: EditorState): EditorView {
  return new EditorView({ state, parent });
}

/** Replaces the whole document as one undoable change. */
export function replaceDoc(state: EditorState, text: string): EditorState {
  return state.update({ changes: { from: 0, to: state.doc.length, insert: text } }).state;
}

/** Fence names of Markdown code blocks (```python) as file names for `languageFor`. */
const FENCES: Record<string, string> = {
  python: "f.py", py: "f.py", javascript: "f.js", js: "f.js", node: "f.js", typescript: "f.ts",
  ts: "f.ts", sh: "f.sh", bash: "f.sh", shell: "f.sh", console: "f.sh", solidity: "f.sol", sol: "f.sol",
};

/**
 * Highlights a statement's code block (`<code class="language-python">`) with the
 * editor's parsers and colours, as static spans: no editor is created.
 */
export function highlightStatic(code: HTMLElement): void {
  const fence = /(?:^|\s)language-([\w+-]+)/.exec(code.className)?.[1]?.toLowerCase();
  const lang = fence ? languageFor(FENCES[fence] ?? "") : null;
  if (!lang) return;
  const text = code.textContent ?? "";
  const out = document.createDocumentFragment();
  highlightCode(
    text,
    lang.language.parser.parse(text),
    highlighter,
    (piece, classes) => {
      if (!classes) return out.append(piece);
      const span = document.createElement("span");
      span.className = classes;
      span.textContent = piece;
      out.append(span);
    },
    () => out.append("\n"),
  );
  code.replaceChildren(out);
}
