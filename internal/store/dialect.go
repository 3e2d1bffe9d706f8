package store

import "strconv"

// Dialect is the SQL a DB speaks. Queries shared by both backends are
// written in the common subset (INSERT … ON CONFLICT, RETURNING, integer
// milliseconds for times) with $1, $2, … placeholders, which modernc's
// SQLite binds as well as PostgreSQL.
type Dialect int

const (
	// DialectSQLite is the embedded database (the zero value).
	DialectSQLite Dialect = iota
	// DialectPostgres is the shared PostgreSQL database.
	DialectPostgres
)

func (d Dialect) String() string {
	switch d {
	case DialectSQLite:
		return "sqlite"
	case DialectPostgres:
		return "postgres"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}
