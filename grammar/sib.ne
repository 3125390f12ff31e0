# The .sib grammar: data forms only. The lexer (src/reader/lexer.ts) has already split the text
# into tokens and the reader has checked that delimiters balance, so the grammar sees coarse token
# classes (src/reader/classes.ts): an opener or closer of any kind, a reader-macro prefix, an atom,
# and #_. Postprocessors (src/reader/build.ts) look at the original token to build the right
# Syntax node. Compile with `npm run grammar`.

@preprocessor typescript
@{%
import { classes } from "./classes.ts"
import * as build from "./build.ts"
%}
@lexer classes

program  -> elements                    {% id %}

# A hand-written repetition instead of `element:*`: nearley's EBNF copies the array for every
# element (quadratic in a long file). Pushing in place is safe because the grammar is unambiguous:
# each partial list is extended by exactly one completion.
elements -> null                        {% () => [] %}
          | elements element            {% ([items, item]) => build.push(items, item) %}

element  -> form                        {% id %}
          | discard                     {% () => build.discarded %}

# #_ skips the next form; stacked ones skip as many (#_ #_ a b skips a and b).
discard  -> %discard form
          | %discard discard form

form     -> %open elements %close       {% ([open, items, close]) => build.collection(open, items, close) %}
          | %prefix form                {% ([mark, form]) => build.readerMacro(mark, form) %}
          | %atom                       {% ([token]) => build.atom(token) %}
