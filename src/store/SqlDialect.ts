/** The SQL dialects the store speaks. Dialect differences are fenced off behind this name. */
export type SqlDialect = "sqlite" | "postgres"
