package webui

import (
	"html"
	"html/template"
	"regexp"
	"strconv"
	"strings"
)

// renderMarkdown turns the Markdown of a report into HTML for the incident
// page. It knows the subset disclosure.RenderMarkdown emits (ATX headings,
// one-line block quotes, paragraphs, nested "-" lists, code spans, entity
// references) plus what a human is likely to type into an edited field
// (ordered lists, fenced code, **strong**, *emphasis*, http(s)/mailto links,
// horizontal rules, hard line breaks).
//
// Safety does not depend on the parser being right: every piece of text is
// escaped on output, raw HTML is shown as text (unlike CommonMark, which
// would pass it through), and links are kept only for http, https and
// mailto URLs. headingShift moves heading levels down (the page's own <h1>
// is the incident title).
func renderMarkdown(src string, headingShift int) template.HTML {
	r := &mdRenderer{shift: headingShift}
	src = strings.ReplaceAll(src, "\r\n", "\n")
	r.blocks(strings.Split(src, "\n"))
	return template.HTML(r.b.String()) //nolint:gosec // every piece of text is escaped by the renderer
}

type mdRenderer struct {
	b     strings.Builder
	shift int
	depth int // block quote nesting
}

// mdMaxQuoteDepth bounds block quote nesting; deeper ">" are text. Without
// it, a line of "> > > …" costs quadratic time.
const mdMaxQuoteDepth = 8

// Block syntax is recognised from a line's start only; the regexps never
// need to scan a whole (possibly 32 KiB) line.
var (
	mdFence = regexp.MustCompile("^ {0,3}(```+|~~~+)")
	mdItem  = regexp.MustCompile(`^( *)([-*+]|(\d{1,9})[.)])(?:[ \t]|$)`)
)

func blank(line string) bool { return strings.TrimSpace(line) == "" }

// indent3 strips up to three leading spaces (more make it not a block).
func indent3(line string) (string, bool) {
	for i := 0; i < 4 && i < len(line); i++ {
		if line[i] != ' ' {
			return line[i:], true
		}
	}
	if len(line) < 4 {
		return "", true
	}
	return line, false
}

// heading parses an ATX heading: "#" to "######", then a space or the end.
func heading(line string) (level int, text string, ok bool) {
	s, ok := indent3(line)
	if !ok {
		return 0, "", false
	}
	for level < len(s) && s[level] == '#' {
		level++
	}
	if level == 0 || level > 6 || (level < len(s) && s[level] != ' ' && s[level] != '\t') {
		return 0, "", false
	}
	text = strings.TrimSpace(s[level:])
	// An optional closing sequence of "#", after a space.
	if t := strings.TrimRight(text, "#"); t != text && (t == "" || t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
		text = strings.TrimSpace(t)
	}
	return level, text, true
}

// quote returns the content of a block quote line ("> text").
func quote(line string) (string, bool) {
	s, ok := indent3(line)
	if !ok || s == "" || s[0] != '>' {
		return "", false
	}
	return strings.TrimPrefix(s[1:], " "), true
}

// rule reports a thematic break: three or more of one of * - _, spaces
// allowed between.
func rule(line string) bool {
	s, ok := indent3(line)
	if !ok || s == "" || (s[0] != '*' && s[0] != '-' && s[0] != '_') {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case s[0]:
			n++
		case ' ', '\t':
		default:
			return false
		}
	}
	return n >= 3
}

// item parses a list item's marker: indentation, ordered, its number, and
// the item's text.
func item(line string) (indent int, ordered bool, num, text string, ok bool) {
	m := mdItem.FindStringSubmatch(line)
	if m == nil {
		return 0, false, "", "", false
	}
	return len(m[1]), m[3] != "", m[3], strings.TrimSpace(line[len(m[0]):]), true
}

func isItem(line string) bool {
	_, _, _, _, ok := item(line)
	return ok
}

func isHeading(line string) bool {
	_, _, ok := heading(line)
	return ok
}

func isQuote(line string) bool {
	_, ok := quote(line)
	return ok
}

// startsBlock reports whether line opens a block other than a paragraph,
// which ends the paragraph before it.
func startsBlock(line string) bool {
	return isHeading(line) || mdFence.MatchString(line) || isQuote(line) || isItem(line) || rule(line)
}

func (r *mdRenderer) blocks(lines []string) {
	for i := 0; i < len(lines); {
		line := lines[i]
		switch {
		case blank(line):
			i++
		case rule(line):
			r.b.WriteString("<hr>\n")
			i++
		case isHeading(line):
			level, text, _ := heading(line)
			tag := "h" + strconv.Itoa(min(level+r.shift, 6))
			r.b.WriteString("<" + tag + ">")
			r.inline(text)
			r.b.WriteString("</" + tag + ">\n")
			i++
		case mdFence.MatchString(line):
			i = r.fenced(lines, i)
		case r.depth < mdMaxQuoteDepth && isQuote(line):
			var inner []string
			for ; i < len(lines); i++ {
				q, ok := quote(lines[i])
				if !ok {
					break
				}
				inner = append(inner, q)
			}
			r.b.WriteString("<blockquote>\n")
			r.depth++
			r.blocks(inner)
			r.depth--
			r.b.WriteString("</blockquote>\n")
		case isItem(line):
			i = r.list(lines, i)
		default:
			var para []string
			for ; i < len(lines) && !blank(lines[i]) && (len(para) == 0 || !startsBlock(lines[i])); i++ {
				para = append(para, lines[i])
			}
			r.b.WriteString("<p>")
			r.inlineLines(para)
			r.b.WriteString("</p>\n")
		}
	}
}

// fenced renders a fenced code block starting at lines[i] and returns the
// index after it. An unclosed fence runs to the end, as in CommonMark.
func (r *mdRenderer) fenced(lines []string, i int) int {
	fence := mdFence.FindStringSubmatch(lines[i])[1]
	i++
	var code []string
	for ; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if strings.HasPrefix(t, fence[:3]) && strings.Trim(t, fence[:1]) == "" && len(t) >= len(fence) {
			i++
			break
		}
		code = append(code, lines[i])
	}
	r.b.WriteString("<pre><code>")
	r.b.WriteString(html.EscapeString(strings.Join(code, "\n")))
	r.b.WriteString("</code></pre>\n")
	return i
}

type mdOpenList struct {
	indent  int
	ordered bool
}

// list renders consecutive list items (deeper indentation nests; a line
// that starts no block continues the item before it) and returns the index
// after them.
func (r *mdRenderer) list(lines []string, i int) int {
	var stack []mdOpenList
	closeTop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top.ordered {
			r.b.WriteString("</li>\n</ol>\n")
		} else {
			r.b.WriteString("</li>\n</ul>\n")
		}
	}
	for i < len(lines) && !blank(lines[i]) {
		line := lines[i]
		indent, ordered, num, text, ok := item(line)
		if !ok || rule(line) {
			if startsBlock(line) {
				break
			}
			// Lazy continuation of the current item's text.
			r.b.WriteString("\n")
			r.inline(strings.TrimSpace(line))
			i++
			continue
		}
		for len(stack) > 0 && stack[len(stack)-1].indent > indent {
			closeTop()
		}
		if len(stack) > 0 && stack[len(stack)-1].indent == indent && stack[len(stack)-1].ordered != ordered {
			closeTop()
		}
		switch {
		case len(stack) == 0 || stack[len(stack)-1].indent < indent:
			if len(stack) > 0 {
				r.b.WriteString("\n")
			}
			if ordered {
				n, _ := strconv.Atoi(num)
				if n != 1 {
					r.b.WriteString(`<ol start="` + strconv.Itoa(n) + `">` + "\n")
				} else {
					r.b.WriteString("<ol>\n")
				}
			} else {
				r.b.WriteString("<ul>\n")
			}
			stack = append(stack, mdOpenList{indent: indent, ordered: ordered})
		default:
			r.b.WriteString("</li>\n")
		}
		r.b.WriteString("<li>")
		r.inline(text)
		i++
	}
	for len(stack) > 0 {
		closeTop()
	}
	return i
}

// inlineLines renders a paragraph's lines: a line ending in two spaces or a
// backslash is a hard break, others are soft breaks.
func (r *mdRenderer) inlineLines(lines []string) {
	for j, l := range lines {
		hard := false
		if j < len(lines)-1 {
			switch {
			case strings.HasSuffix(l, "  "):
				hard = true
			case strings.HasSuffix(l, `\`) && !strings.HasSuffix(l, `\\`):
				hard, l = true, strings.TrimSuffix(l, `\`)
			}
		}
		r.inline(strings.TrimSpace(l))
		switch {
		case hard:
			r.b.WriteString("<br>\n")
		case j < len(lines)-1:
			r.b.WriteString("\n")
		}
	}
}

var (
	mdEntity   = regexp.MustCompile(`^&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});`)
	mdAutolink = regexp.MustCompile(`^<((?:https?|mailto):[^\s<>]+)>`)
)

// mdScanLimit bounds how far an opener looks for its closer, so a long line
// of unmatched delimiters costs linear time, not quadratic.
const mdScanLimit = 512

const mdPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// inline renders one run of inline Markdown, escaping all text.
func (r *mdRenderer) inline(s string) {
	var text strings.Builder
	flush := func() {
		r.b.WriteString(html.EscapeString(text.String()))
		text.Reset()
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && strings.IndexByte(mdPunct, s[i+1]) >= 0:
			text.WriteByte(s[i+1])
			i += 2
			continue
		case c == '&':
			if m := mdEntity.FindString(s[i:]); m != "" {
				text.WriteString(html.UnescapeString(m))
				i += len(m)
				continue
			}
		case c == '`':
			if n, code, ok := codeSpan(s[i:]); ok {
				flush()
				r.b.WriteString("<code>" + html.EscapeString(code) + "</code>")
				i += n
				continue
			}
			// An unmatched run of backticks is literal text, all of it.
			j := i
			for j < len(s) && s[j] == '`' {
				j++
			}
			text.WriteString(s[i:j])
			i = j
			continue
		case c == '*':
			if n, inner, strong, ok := emphasis(s[i:]); ok {
				flush()
				tag := "em"
				if strong {
					tag = "strong"
				}
				r.b.WriteString("<" + tag + ">")
				r.inline(inner)
				r.b.WriteString("</" + tag + ">")
				i += n
				continue
			}
		case c == '[':
			if n, label, href, ok := link(s[i:]); ok {
				flush()
				r.b.WriteString(`<a href="` + html.EscapeString(href) + `" rel="noopener noreferrer nofollow">`)
				r.inline(label)
				r.b.WriteString("</a>")
				i += n
				continue
			}
		case c == '<':
			if m := mdAutolink.FindStringSubmatch(s[i:]); m != nil {
				flush()
				r.b.WriteString(`<a href="` + html.EscapeString(m[1]) + `" rel="noopener noreferrer nofollow">` + html.EscapeString(m[1]) + "</a>")
				i += len(m[0])
				continue
			}
		}
		text.WriteByte(c)
		i++
	}
	flush()
}

// codeSpan matches a code span at the start of s: a backtick run closed by
// a run of the same length. It returns the bytes consumed and the code.
func codeSpan(s string) (int, string, bool) {
	n := 0
	for n < len(s) && s[n] == '`' {
		n++
	}
	for j := n; j < len(s) && j < n+mdScanLimit; {
		if s[j] != '`' {
			j++
			continue
		}
		k := j
		for k < len(s) && s[k] == '`' {
			k++
		}
		if k-j == n {
			code := s[n:j]
			if len(code) >= 2 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.Trim(code, " ") != "" {
				code = code[1 : len(code)-1]
			}
			return k, code, true
		}
		j = k
	}
	return 0, "", false
}

// emphasis matches *text* or **text** at the start of s: the opener is
// followed, and the closer preceded, by a non-space (so "2 * 3" stays
// text).
func emphasis(s string) (n int, inner string, strong, ok bool) {
	delim := "*"
	if strings.HasPrefix(s, "**") {
		delim, strong = "**", true
	}
	rest := s[len(delim):]
	if rest == "" || rest[0] == ' ' || rest[0] == '\t' || (!strong && rest[0] == '*') {
		return 0, "", false, false
	}
	for j := 1; j <= min(len(rest)-len(delim), mdScanLimit); j++ {
		if !strings.HasPrefix(rest[j:], delim) || rest[j-1] == ' ' || rest[j-1] == '\t' || rest[j-1] == '\\' {
			continue
		}
		if !strong && j+1 < len(rest) && rest[j+1] == '*' {
			continue // part of a ** run, not our closer
		}
		return len(delim) + j + len(delim), rest[:j], strong, true
	}
	return 0, "", false, false
}

// link matches [label](url) at the start of s, for http, https and mailto
// URLs only; anything else stays text (so "[TO BE FILLED]" is text).
func link(s string) (n int, label, href string, ok bool) {
	depth := 0
	end := -1
	for j := 0; j < len(s) && j < mdScanLimit; j++ {
		switch s[j] {
		case '\\':
			j++
		case '[':
			depth++
		case ']':
			depth--
			if depth == 0 {
				end = j
			}
		}
		if end >= 0 {
			break
		}
	}
	if end < 0 || end+1 >= len(s) || s[end+1] != '(' {
		return 0, "", "", false
	}
	closeParen := strings.IndexByte(s[end+2:min(len(s), end+2+mdScanLimit)], ')')
	if closeParen < 0 {
		return 0, "", "", false
	}
	target := strings.TrimSpace(s[end+2 : end+2+closeParen])
	if target == "" || strings.ContainsAny(target, " \t<>\"") {
		return 0, "", "", false
	}
	lower := strings.ToLower(target)
	if !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "mailto:") {
		return 0, "", "", false
	}
	return end + 2 + closeParen + 1, s[1:end], target, true
}
