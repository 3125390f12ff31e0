# The .sib grammar: data forms only, over the moo lexer's own tokens (src/reader/lexer.ts). The
# reader has already lexed the text and checked that delimiters balance and nest, so the grammar
# only says what the forms are; it is fed one top-level form's significant tokens at a time.
# Postprocessors (src/reader/build.ts) build Syntax nodes; spans come from the tokens (each knows
# its file). Compile with `npm run grammar`.

@preprocessor typescript
@{%
import { lexer } from "./lexer.ts"
import * as build from "./build.ts"
%}
@lexer lexer

program  -> elements                                  {% id %}

# A hand-written repetition instead of `element:*`: nearley's EBNF copies the array for every
# element (quadratic in a long form). Pushing in place is safe because the grammar is unambiguous:
# each partial list is extended by exactly one completion. The empty list is never pushed into (a
# one-element list starts a new array): the parser's first column, and its empty list, are reused
# for every form.
elements -> null                                      {% () => [] %}
          | elements element                          {% ([items, item]) => build.push(items.length === 0 ? [] : items, item) %}

element  -> form                                      {% id %}
          | discard                                   {% () => build.discarded %}

# #_ skips the next form; stacked ones skip as many (#_ #_ a b skips a and b).
discard  -> %discard form
          | %discard discard form

form     -> %lparen elements %rparen                  {% ([open, items, close]) => build.list(open, items, close) %}
          | %lbrack elements %rbrack                  {% ([open, items, close]) => build.vector(open, items, close) %}
          | %lbrace elements %rbrace                  {% ([open, items, close]) => build.map(open, items, close) %}
          | %setOpen elements %rbrace                 {% ([open, items, close]) => build.set(open, items, close) %}
          | prefix form                               {% ([mark, form]) => build.readerMacro(mark, form) %}
          | atom                                      {% ([token]) => build.atom(token) %}

prefix   -> %quote {% id %} | %quasiquote {% id %} | %unquote {% id %} | %splice {% id %}
atom     -> %number {% id %} | %string {% id %} | %keyword {% id %} | %symbol {% id %}
