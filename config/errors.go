package config

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// maxErrors bounds how many problems one config reports: past that, the
// rest is noise and a hostile file must not make us allocate without bound.
const maxErrors = 100

// Error is one problem in a config file.
type Error struct {
	File string // as given to Load or Parse; "" for Validate
	Line int    // 1-based; 0 if the problem has no line (e.g. file unreadable)
	Key  string // dotted key, e.g. "probes.interval" or "services[2].url"; "" if none
	Msg  string
	Err  error // underlying error, if any (e.g. from reading a token file)
}

// Error formats the problem as FILE:LINE: key: problem, leaving out what is
// unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":")
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist)
// works for a missing token file.
func (e *Error) Unwrap() error { return e.Err }

// Errors returns every *Error in err, in the order reported (line order),
// looking through errors.Join and %w wrapping.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) { //nolint:errorlint // this is the unwrapping walk itself
		case nil:
		case *Error:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// collector gathers problems with their lines.
type collector struct {
	file      string
	errs      []*Error
	truncated bool
	// bad records keys whose value could not be decoded, so validation does
	// not report a second, confusing problem about the default left in place.
	bad map[string]bool
}

func (c *collector) add(line int, key, format string, args ...any) {
	c.addErr(line, key, fmt.Sprintf(format, args...), nil)
}

func (c *collector) addErr(line int, key, msg string, err error) {
	// The same node reached twice through an alias reports once.
	for _, e := range c.errs {
		if e.Line == line && e.Key == key && e.Msg == msg {
			return
		}
	}
	if len(c.errs) >= maxErrors {
		c.truncated = true
		return
	}
	c.errs = append(c.errs, &Error{File: c.file, Line: line, Key: key, Msg: msg, Err: err})
}

func (c *collector) tooMany() bool { return c.truncated }

// err joins the problems in line order; problems without a line come last.
func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	sort.SliceStable(c.errs, func(i, j int) bool {
		li, lj := c.errs[i].Line, c.errs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	errs := make([]error, 0, len(c.errs)+1)
	for _, e := range c.errs {
		errs = append(errs, e)
	}
	if c.truncated {
		errs = append(errs, &Error{File: c.file, Msg: fmt.Sprintf("too many problems; only %d are shown", maxErrors)})
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
