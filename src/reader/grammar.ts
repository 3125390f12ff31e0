// Generated automatically by nearley, version 2.20.1
// http://github.com/Hardmath123/nearley
// Bypasses TS6133. Allow declared but unused functions.
// @ts-ignore
function id(d: any[]): any { return d[0]; }
declare var discard: any;
declare var open: any;
declare var close: any;
declare var prefix: any;
declare var atom: any;

import { classes } from "./classes.ts"
import * as build from "./build.ts"

interface NearleyToken {
  value: any;
  [key: string]: any;
};

interface NearleyLexer {
  reset: (chunk: string, info: any) => void;
  next: () => NearleyToken | undefined;
  save: () => any;
  formatError: (token: never) => string;
  has: (tokenType: string) => boolean;
};

interface NearleyRule {
  name: string;
  symbols: NearleySymbol[];
  postprocess?: (d: any[], loc?: number, reject?: {}) => any;
};

type NearleySymbol = string | { literal: any } | { test: (token: any) => boolean };

interface Grammar {
  Lexer: NearleyLexer | undefined;
  ParserRules: NearleyRule[];
  ParserStart: string;
};

const grammar: Grammar = {
  Lexer: classes,
  ParserRules: [
    {"name": "program", "symbols": ["elements"], "postprocess": id},
    {"name": "elements", "symbols": [], "postprocess": () => []},
    {"name": "elements", "symbols": ["elements", "element"], "postprocess": ([items, item]) => build.push(items, item)},
    {"name": "element", "symbols": ["form"], "postprocess": id},
    {"name": "element", "symbols": ["discard"], "postprocess": () => build.discarded},
    {"name": "discard", "symbols": [(classes.has("discard") ? {type: "discard"} : discard), "form"]},
    {"name": "discard", "symbols": [(classes.has("discard") ? {type: "discard"} : discard), "discard", "form"]},
    {"name": "form", "symbols": [(classes.has("open") ? {type: "open"} : open), "elements", (classes.has("close") ? {type: "close"} : close)], "postprocess": ([open, items, close]) => build.collection(open, items, close)},
    {"name": "form", "symbols": [(classes.has("prefix") ? {type: "prefix"} : prefix), "form"], "postprocess": ([mark, form]) => build.readerMacro(mark, form)},
    {"name": "form", "symbols": [(classes.has("atom") ? {type: "atom"} : atom)], "postprocess": ([token]) => build.atom(token)}
  ],
  ParserStart: "program",
};

export default grammar;
