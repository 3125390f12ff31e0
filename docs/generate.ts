/**
 * `npm run docs`: writes docs/language.md from the language's tables, and the option reference
 * tables into the README (between `<!-- options:NAME -->` markers) from the option specs.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { withOptionTables } from "../src/options/optionTables.ts"
import { languageReference } from "../src/program/languageReference.ts"

const language = join(import.meta.dirname, "language.md")
writeFileSync(language, languageReference())
console.log(`wrote ${language}`)
const readme = join(import.meta.dirname, "..", "README.md")
writeFileSync(readme, withOptionTables(readFileSync(readme, "utf8")))
console.log(`wrote the option tables of ${readme}`)
