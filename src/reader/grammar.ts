// Generated automatically by nearley, version 2.20.1
// http://github.com/Hardmath123/nearley
// Bypasses TS6133. Allow declared but unused functions.
// @ts-ignore
function id(d: any[]): any { return d[0]; }
declare var discard: any;
declare var lparen: any;
declare var rparen: any;
declare var lbrack: any;
declare var rbrack: any;
declare var lbrace: any;
declare var rbrace: any;
declare var setOpen: any;
declare var quote: any;
declare var quasiquote: any;
declare var unquote: any;
declare var splice: any;
declare var number: any;
declare var string: any;
declare var keyword: any;
declare var symbol: any;

import { lexer } from "./lexer.ts"
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
  Lexer: lexer,
  ParserRules: [
    {"name": "program", "symbols": ["elements"], "postprocess": id},
    {"name": "elements", "symbols": [], "postprocess": () => []},
    {"name": "elements", "symbols": ["elements", "element"], "postprocess": ([items, item]) => build.push(items.length === 0 ? [] : items, item)},
    {"name": "element", "symbols": ["form"], "postprocess": id},
    {"name": "element", "symbols": ["discard"], "postprocess": () => build.discarded},
    {"name": "discard", "symbols": [(lexer.has("discard") ? {type: "discard"} : discard), "form"]},
    {"name": "discard", "symbols": [(lexer.has("discard") ? {type: "discard"} : discard), "discard", "form"]},
    {"name": "form", "symbols": [(lexer.has("lparen") ? {type: "lparen"} : lparen), "elements", (lexer.has("rparen") ? {type: "rparen"} : rparen)], "postprocess": ([open, items, close]) => build.list(open, items, close)},
    {"name": "form", "symbols": [(lexer.has("lbrack") ? {type: "lbrack"} : lbrack), "elements", (lexer.has("rbrack") ? {type: "rbrack"} : rbrack)], "postprocess": ([open, items, close]) => build.vector(open, items, close)},
    {"name": "form", "symbols": [(lexer.has("lbrace") ? {type: "lbrace"} : lbrace), "elements", (lexer.has("rbrace") ? {type: "rbrace"} : rbrace)], "postprocess": ([open, items, close]) => build.map(open, items, close)},
    {"name": "form", "symbols": [(lexer.has("setOpen") ? {type: "setOpen"} : setOpen), "elements", (lexer.has("rbrace") ? {type: "rbrace"} : rbrace)], "postprocess": ([open, items, close]) => build.set(open, items, close)},
    {"name": "form", "symbols": ["prefix", "form"], "postprocess": ([mark, form]) => build.readerMacro(mark, form)},
    {"name": "form", "symbols": ["atom"], "postprocess": ([token]) => build.atom(token)},
    {"name": "prefix", "symbols": [(lexer.has("quote") ? {type: "quote"} : quote)], "postprocess": id},
    {"name": "prefix", "symbols": [(lexer.has("quasiquote") ? {type: "quasiquote"} : quasiquote)], "postprocess": id},
    {"name": "prefix", "symbols": [(lexer.has("unquote") ? {type: "unquote"} : unquote)], "postprocess": id},
    {"name": "prefix", "symbols": [(lexer.has("splice") ? {type: "splice"} : splice)], "postprocess": id},
    {"name": "atom", "symbols": [(lexer.has("number") ? {type: "number"} : number)], "postprocess": id},
    {"name": "atom", "symbols": [(lexer.has("string") ? {type: "string"} : string)], "postprocess": id},
    {"name": "atom", "symbols": [(lexer.has("keyword") ? {type: "keyword"} : keyword)], "postprocess": id},
    {"name": "atom", "symbols": [(lexer.has("symbol") ? {type: "symbol"} : symbol)], "postprocess": id}
  ],
  ParserStart: "program",
};

export default grammar;
