/** The store conformance suite on every dialect, each on a private and on a shared database. */
import { conformanceFactories } from "../helpers/stores.ts"
import { storeConformance } from "./conformance.ts"

for (const factory of conformanceFactories) {
  storeConformance(factory, "fresh")
  storeConformance(factory, "shared")
}
