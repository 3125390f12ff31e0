/** The store conformance suite on every dialect, each on a private and on a shared database. */
import { storeFactories } from "../helpers/stores.ts"
import { storeConformance } from "./conformance.ts"

for (const factory of storeFactories) {
  storeConformance(factory, "fresh")
  storeConformance(factory, "shared")
}
