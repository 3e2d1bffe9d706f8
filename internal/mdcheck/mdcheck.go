// Package mdcheck parses Markdown with an independent CommonMark parser
// (goldmark, with GFM's tables, strikethrough and bare-URL autolinks) and
// lists what in it is live: links, images, autolinks, raw HTML and
// headings. Tests use it to prove that text copied from the network into a
// report renders as text, on any CommonMark or GFM renderer a report may be
// published with, not only on nymwatch's own console. Only tests import it.
package mdcheck

import (
	"fmt"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/text"
)

// Element is one live construct found in a document.
type Element struct {
	Kind string // "link", "image", "autolink", "html", "heading", "table"
	Text string // the destination, the HTML, or the heading's text
}

func (e Element) String() string { return fmt.Sprintf("%s %q", e.Kind, e.Text) }

// Live parses md and returns its links, images, autolinks, raw HTML
// (inline or block), headings (ATX or setext) and tables, in document
// order.
func Live(md string) []Element {
	src := []byte(md)
	p := goldmark.New(goldmark.WithExtensions(extension.GFM)).Parser()
	doc := p.Parse(text.NewReader(src))
	var out []Element
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			out = append(out, Element{"link", string(n.Destination)})
		case *ast.Image:
			out = append(out, Element{"image", string(n.Destination)})
		case *ast.AutoLink:
			out = append(out, Element{"autolink", string(n.URL(src))})
		case *ast.RawHTML:
			var s string
			for i := 0; i < n.Segments.Len(); i++ {
				seg := n.Segments.At(i)
				s += string(seg.Value(src))
			}
			out = append(out, Element{"html", s})
		case *ast.HTMLBlock:
			out = append(out, Element{"html", string(n.Lines().Value(src))})
		case *ast.Heading:
			out = append(out, Element{"heading", string(n.Lines().Value(src))})
		case *east.Table:
			out = append(out, Element{"table", ""})
		}
		return ast.WalkContinue, nil
	})
	return out
}
