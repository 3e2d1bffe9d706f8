package webui

import (
	"bytes"
	"html"
	"html/template"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// renderMarkdown turns the Markdown of a report into HTML for the incident
// page, with goldmark (CommonMark, no GFM: reports use neither tables nor
// strikethrough, and GFM's bare-URL autolinks would make a node's
// "www.example" live).
//
// Safety does not rest on goldmark's defaults alone:
//   - raw HTML (inline or block) is shown as escaped text, not dropped, so a
//     human's "<b>" is visible and nothing runs;
//   - links and autolinks are kept only for http, https, mailto and relative
//     destinations; any other scheme leaves the label as plain text;
//   - images become their alt text (the console loads nothing from outside);
//   - the output is capped at mdMaxOutput: past it the whole input is shown
//     as escaped preformatted text.
//
// headingShift moves heading levels down (the page's own <h1> is the
// incident title).
func renderMarkdown(src string, headingShift int) template.HTML {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	pc := parser.NewContext()
	pc.Set(mdShiftKey, headingShift)
	var b bytes.Buffer
	if err := mdConverter.Convert([]byte(src), &b, parser.WithContext(pc)); err != nil || b.Len() > mdMaxOutput(len(src)) {
		return template.HTML("<pre><code>" + html.EscapeString(src) + "</code></pre>\n") //nolint:gosec // escaped
	}
	return template.HTML(b.String()) //nolint:gosec // raw HTML is escaped, unsafe links and images removed
}

// mdConverter is built once (building it costs more than rendering a
// report) and never changed; the heading shift travels in the parser
// context.
var mdConverter = goldmark.New(
	goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(mdSanitizer{}, 100))),
	goldmark.WithRendererOptions(renderer.WithNodeRenderers(util.Prioritized(mdRawHTMLAsText{}, 100))),
)

var mdShiftKey = parser.NewContextKey()

// mdMaxOutput bounds the HTML for an input of n bytes. Escaping makes a
// byte up to six ("&quot;") and nested list markup is a few dozen bytes per
// two input bytes; reference links can repeat a long destination at will,
// which is what the cap is for.
func mdMaxOutput(n int) int { return 32*n + 4096 }

// mdSafeLink reports whether a link destination may stay live. It judges
// the destination as the renderer will write it (entities such as
// "jav&#x61;script:" resolved).
func mdSafeLink(dest []byte) bool {
	d := strings.ToLower(strings.TrimSpace(string(util.URLEscape(dest, true))))
	if d == "" {
		return false // "[x]()" links nowhere
	}
	for _, p := range []string{"http://", "https://", "mailto:"} {
		if strings.HasPrefix(d, p) {
			return true
		}
	}
	// Relative: no scheme before the first "/", "?" or "#".
	if i := strings.IndexAny(d, ":/?#"); i >= 0 && d[i] == ':' {
		return false
	}
	return true
}

// mdSanitizer shifts headings, unwraps links with unsafe schemes, turns
// images into their alt text and marks kept links rel=noopener.
type mdSanitizer struct{}

func (mdSanitizer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	src := reader.Source()
	shift, _ := pc.Get(mdShiftKey).(int)
	var unwrap, images []ast.Node
	var autolinks []*ast.AutoLink
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(6, n.Level+shift)
		case *ast.Link:
			if !mdSafeLink(n.Destination) {
				unwrap = append(unwrap, n)
			} else {
				n.SetAttributeString("rel", []byte("noopener noreferrer nofollow"))
			}
		case *ast.AutoLink:
			if n.AutoLinkType == ast.AutoLinkURL && !mdSafeLink(n.URL(src)) {
				autolinks = append(autolinks, n)
			} else {
				n.SetAttributeString("rel", []byte("noopener noreferrer nofollow"))
			}
		case *ast.Image:
			images = append(images, n)
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, n := range unwrap {
		p := n.Parent()
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			p.InsertBefore(p, n, c)
			c = next
		}
		p.RemoveChild(p, n)
	}
	for _, n := range images {
		p := n.Parent()
		p.ReplaceChild(p, n, ast.NewString(mdPlainText(n, src)))
	}
	for _, n := range autolinks {
		p := n.Parent()
		p.ReplaceChild(p, n, ast.NewString(append([]byte(nil), n.Label(src)...)))
	}
}

// mdPlainText is the text of n's descendants (an image's alt text).
func mdPlainText(n ast.Node, src []byte) []byte {
	var b []byte
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			switch c := c.(type) {
			case *ast.Text:
				b = append(b, c.Value(src)...) //nolint:staticcheck // Value is what renders
			case *ast.String:
				b = append(b, c.Value...)
			}
		}
		return ast.WalkContinue, nil
	})
	return b
}

// mdRawHTMLAsText renders raw HTML as escaped text: shown, never live.
type mdRawHTMLAsText struct{}

func (mdRawHTMLAsText) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if entering {
			segs := n.(*ast.RawHTML).Segments
			for i := range segs.Len() {
				seg := segs.At(i)
				_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
			}
		}
		return ast.WalkSkipChildren, nil
	})
	reg.Register(ast.KindHTMLBlock, func(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkSkipChildren, nil
		}
		b := n.(*ast.HTMLBlock)
		_, _ = w.WriteString("<p>")
		lines := b.Lines()
		for i := range lines.Len() {
			seg := lines.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
		}
		if b.HasClosure() {
			_, _ = w.Write(util.EscapeHTML(b.ClosureLine.Value(src)))
		}
		_, _ = w.WriteString("</p>\n")
		return ast.WalkSkipChildren, nil
	})
}
