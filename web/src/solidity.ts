// Solidity highlighting for CodeMirror 6, as a StreamLanguage tokenizer.
//
// Hand-written because there is no well-kept CodeMirror 6 Solidity package: the one on
// npm has had no release for years and pins older CodeMirror internals. Highlighting
// needs only the lexical level (keywords, types, literals, comments), which a tokenizer
// of a hundred lines covers; it also keeps the bundle small.

import { StreamLanguage, type StreamParser, type StringStream } from "@codemirror/language";

const words = (s: string) => new Set(s.split(" "));

const KEYWORDS = words(
  "pragma solidity import from as contract interface library abstract is function modifier " +
    "event error struct enum mapping constructor fallback receive returns return if else for " +
    "while do break continue try catch revert emit new delete using public private internal " +
    "external pure view payable constant immutable override virtual memory storage calldata " +
    "indexed anonymous unchecked assembly type let global transient",
);
const BUILTINS = words(
  "msg block tx abi this super require assert keccak256 sha256 ripemd160 ecrecover addmod " +
    "mulmod selfdestruct gasleft blockhash blobhash",
);
const UNITS = words("wei gwei ether seconds minutes hours days weeks");
const TYPE = /^(?:u?int(?:8|16|24|32|40|48|56|64|72|80|88|96|104|112|120|128|136|144|152|160|168|176|184|192|200|208|216|224|232|240|248|256)?|bytes(?:[1-9]|[12]\d|3[0-2])?|u?fixed(?:\d+x\d+)?|address|bool|string|byte)$/;
/** After these, the next identifier is the name being declared. */
const DECLARES_TYPE = words("contract interface library struct enum event error");
const DECLARES_FN = words("function modifier");

interface State {
  /** Inside a block comment: "doc" for NatSpec `/** … *\/`, "plain" otherwise. */
  comment: null | "doc" | "plain";
  /** What the next identifier declares, if a declaring keyword came just before. */
  expect: null | "type" | "fn";
  /** Bracket depth, for indentation. */
  depth: number;
}

function blockComment(stream: StringStream, state: State): string {
  const kind = state.comment === "doc" ? "docComment" : "blockComment";
  if (stream.skipTo("*/")) {
    stream.pos += 2;
    state.comment = null;
  } else {
    stream.skipToEnd();
  }
  return kind;
}

const parser: StreamParser<State> = {
  name: "solidity",
  startState: () => ({ comment: null, expect: null, depth: 0 }),
  copyState: (s) => ({ ...s }),
  token(stream, state) {
    if (state.comment) return blockComment(stream, state);
    if (stream.eatSpace()) return null;

    if (stream.match("///")) {
      stream.skipToEnd();
      return "docComment";
    }
    if (stream.match("//")) {
      stream.skipToEnd();
      return "lineComment";
    }
    if (stream.match("/**") && !stream.match("/", false)) {
      state.comment = "doc";
      return blockComment(stream, state);
    }
    if (stream.match("/*")) {
      state.comment = "plain";
      return blockComment(stream, state);
    }

    // Strings, with the hex"…" and unicode"…" prefixes.
    if (stream.match(/^(?:hex|unicode)?(["'])/, true)) {
      const quote = stream.current().slice(-1);
      let escaped = false;
      let ch: string | void;
      while ((ch = stream.next()) !== undefined) {
        if (ch === quote && !escaped) break;
        escaped = !escaped && ch === "\\";
      }
      return "string";
    }
    if (stream.match(/^0x[0-9a-fA-F_]*/) || stream.match(/^(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE]-?\d+)?/)) {
      return "number";
    }

    if (stream.match(/^[A-Za-z_$][\w$]*/)) {
      const word = stream.current();
      const expect = state.expect;
      state.expect = null;
      if (word === "true" || word === "false") return "bool";
      if (KEYWORDS.has(word)) {
        if (DECLARES_TYPE.has(word)) state.expect = "type";
        else if (DECLARES_FN.has(word)) state.expect = "fn";
        return "keyword";
      }
      if (TYPE.test(word)) return "typeName";
      if (UNITS.has(word)) return "unit";
      if (expect === "type") return "typeName.definition";
      if (expect === "fn") return "variableName.definition";
      if (BUILTINS.has(word)) return "variableName.standard";
      if (stream.match(/^\s*\(/, false)) return "variableName.function";
      // Contracts, interfaces, structs and events are capitalised by convention.
      if (/^[A-Z]/.test(word) && /[a-z]/.test(word)) return "typeName";
      return "variableName";
    }

    const ch = stream.next()!;
    if ("{([".includes(ch)) {
      state.depth += 1;
      return "bracket";
    }
    if ("})]".includes(ch)) {
      state.depth = Math.max(0, state.depth - 1);
      return "bracket";
    }
    if (/[+\-*/%=<>!&|^~?:]/.test(ch)) {
      stream.eatWhile(/[+\-*/%=<>!&|^~?:]/);
      return "operator";
    }
    return "punctuation";
  },
  indent(state, textAfter, cx) {
    if (state.comment) return null;
    const closing = /^[}\])]/.test(textAfter) ? 1 : 0;
    return Math.max(0, state.depth - closing) * cx.unit;
  },
  languageData: {
    commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
    indentOnInput: /^\s*[}\])]$/,
  },
};

export const solidity = StreamLanguage.define(parser);
