package disclosure

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Everything the report copies from the network (node details, target ids,
// hostnames, alert labels and annotations, probe reasons, detector titles)
// is hostile: a node answering `[Nym official fix](https://phish.example/fix)`
// must not put a live link into text meant for publication. Escaping
// happens at the point where text is inserted into Markdown, never when
// it is stored, so the JSON API and the pages carry the plain text.

// mdPlain makes machine text one clean line: control and format characters
// (including bidi overrides) and invalid UTF-8 removed, every run of white
// space one space, at most maxRunes runes (then "…"). It does not escape:
// use it for text that is not Markdown (titles kept in the database).
func mdPlain(s string, maxRunes int) string {
	var b strings.Builder
	n := 0
	space := false
	for _, r := range strings.TrimSpace(s) {
		switch {
		case r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r):
			if !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		case unicode.Is(unicode.Cf, r):
			continue // zero-width and bidi controls: invisible, can spoof text
		}
		space = false
		if n == maxRunes {
			b.WriteString("…")
			break
		}
		n++
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// mdInline makes machine text safe as inline CommonMark/GFM text on one
// line: mdPlain, then every character with a meaning is neutralised so the
// text renders literally, wherever on a line it lands:
//   - backslash, backtick, * _ ~ (emphasis, code, strikethrough), [ ]
//     (links, images, footnotes) and | (tables) are backslash-escaped;
//   - < > & become entities (no raw HTML, no <autolink>, no entity);
//   - GFM's bare autolinks are broken: "www." becomes "www\.", "://"
//     becomes "\://" and "@" becomes "\@";
//   - a leading # + - = > or "1." / "1)" is escaped, so the text cannot
//     open a heading, a list, a block quote or a setext underline even if
//     it starts a line.
func mdInline(s string, maxRunes int) string {
	return mdEscape(mdPlain(s, maxRunes))
}

func mdEscape(s string) string {
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '`', '*', '_', '~', '[', ']', '|', '@':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case ':':
			if strings.HasPrefix(s[i:], "://") {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '.':
			if (i >= 3 && strings.EqualFold(s[i-3:i], "www")) || leadingDigits(s, i) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case '#', '+', '-', '=':
			if i == 0 {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		case ')':
			if leadingDigits(s, i) {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// leadingDigits reports whether s[:i] is one to nine ASCII digits: then a
// "." or ")" at i would be an ordered list marker at a line's start.
func leadingDigits(s string, i int) bool {
	if i == 0 || i > 9 {
		return false
	}
	for j := range i {
		if s[j] < '0' || s[j] > '9' {
			return false
		}
	}
	return true
}

// mdCode puts an identifier in a Markdown code span. A code span is
// literal (no escapes, no HTML, no links inside it), so the only thing to
// keep out is the backtick that would close it.
func mdCode(s string) string {
	s = strings.ReplaceAll(mdPlain(s, 200), "`", "'")
	if s == "" {
		return "`?`"
	}
	return "`" + s + "`"
}
