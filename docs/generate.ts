/** Writes docs/language.md from the language's tables (`npm run docs`). */
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { languageReference } from "../src/program/reference.ts"

const target = join(import.meta.dirname, "language.md")
writeFileSync(target, languageReference())
console.log(`wrote ${target}`)
