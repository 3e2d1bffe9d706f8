package store

import (
	"strconv"
	"strings"
)

// Dialect is the SQL a DB speaks. Queries shared by both backends are
// written in the common subset (INSERT … ON CONFLICT, RETURNING, integer
// milliseconds for times) with ? placeholders, and passed through Rebind.
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

// Rebind rewrites the ? placeholders of q for d: unchanged for SQLite,
// $1, $2, … for PostgreSQL. A ? inside a quoted literal or identifier, or
// in a -- comment, is left alone.
func (d Dialect) Rebind(q string) string {
	if d != DialectPostgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	var quote byte // ' or " while inside a quoted literal/identifier
	comment := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case comment:
			if c == '\n' {
				comment = false
			}
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			comment = true
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
