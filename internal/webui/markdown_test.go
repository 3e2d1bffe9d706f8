package webui

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestRenderMarkdownTable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"heading shifted", "# Title\n\n## Section\n", "<h3>Title</h3>\n<h4>Section</h4>\n"},
		{"heading needs a space", "#hashtag", "<p>#hashtag</p>\n"},
		{"closing hashes", "## Done ##", "<h4>Done</h4>\n"},
		{"paragraph soft break", "one\ntwo", "<p>one\ntwo</p>\n"},
		{"hard break", "one  \ntwo\\\nthree", "<p>one<br>\ntwo<br>\nthree</p>\n"},
		{"quote", "> DRAFT: not yet confirmed.", "<blockquote>\n<p>DRAFT: not yet confirmed.</p>\n</blockquote>\n"},
		{"list interrupts paragraph", "Observed:\n- a\n- b", "<p>Observed:</p>\n<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"},
		{"nested list", "- a\n  - a1\n  - a2\n- b", "<ul>\n<li>a\n<ul>\n<li>a1</li>\n<li>a2</li>\n</ul>\n</li>\n<li>b</li>\n</ul>\n"},
		{"ordered list with start", "3. c\n4. d", "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n"},
		{"lazy continuation", "- a\ncontinued", "<ul>\n<li>a\ncontinued</li>\n</ul>\n"},
		{"rule", "a\n\n---\n\nb", "<p>a</p>\n<hr>\n<p>b</p>\n"},
		{"fence keeps text", "```\n<b>x</b> *y*\n```", "<pre><code>&lt;b&gt;x&lt;/b&gt; *y*\n</code></pre>\n"},
		{"unclosed fence", "```go\nx", "<pre><code class=\"language-go\">x\n</code></pre>\n"},
		{"fence info escaped", "```\"><script>\nx\n```", "<pre><code class=\"language-&quot;&gt;&lt;script&gt;\">x\n</code></pre>\n"},
		{"code span", "node `node/1/node_http` failed", "<p>node <code>node/1/node_http</code> failed</p>\n"},
		{"double backtick code", "``a`b``", "<p><code>a`b</code></p>\n"},
		{"unmatched backticks", "a `` b", "<p>a `` b</p>\n"},
		{"strong and em", "**bold** and *em*", "<p><strong>bold</strong> and <em>em</em></p>\n"},
		{"lone star", "2 * 3 * 4", "<p>2 * 3 * 4</p>\n"},
		{"underscores stay", "exit_gateways and node_http", "<p>exit_gateways and node_http</p>\n"},
		{"placeholder is text", "- Immediate fixes deployed: [TO BE FILLED]", "<ul>\n<li>Immediate fixes deployed: [TO BE FILLED]</li>\n</ul>\n"},
		{"link", "see [the status page](https://status.nym.com/a?b=1&c=2)", `<p>see <a href="https://status.nym.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">the status page</a></p>` + "\n"},
		{"javascript link is text", "[x](javascript:alert(1))", "<p>x</p>\n"},
		{"javascript autolink is text", "<javascript:alert(1)>", "<p>javascript:alert(1)</p>\n"},
		{"other schemes are text", "[x](ftp://h/f) [y](JaVaScRiPt:1) [z](file:///etc/passwd)", "<p>x y z</p>\n"},
		{"relative link", "[runbook](/runbooks/gw.md#a)", `<p><a href="/runbooks/gw.md#a" rel="noopener noreferrer nofollow">runbook</a></p>` + "\n"},
		{"mailto link", "[ops](mailto:ops@nym.com)", `<p><a href="mailto:ops@nym.com" rel="noopener noreferrer nofollow">ops</a></p>` + "\n"},
		{"image is its alt text", "![a *b*](https://p.example/i.png)", "<p>a b</p>\n"},
		{"html block is text", "<div onclick=x>\nhi\n</div>", "<p>&lt;div onclick=x&gt;\nhi\n&lt;/div&gt;</p>\n"},
		{"data link is text", "[x](data:text/html,hi)", "<p>x</p>\n"},
		{"autolink", "<https://nym.com>", `<p><a href="https://nym.com" rel="noopener noreferrer nofollow">https://nym.com</a></p>` + "\n"},
		{"raw html is text", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"},
		{"html in heading", "# <img src=x onerror=alert(1)>", "<h3>&lt;img src=x onerror=alert(1)&gt;</h3>\n"},
		{"entities decode then escape", "a &lt;b&gt; &amp; &copy; &#65; &bogus; & c", "<p>a &lt;b&gt; &amp; © A &amp;bogus; &amp; c</p>\n"},
		{"entity cannot smuggle a tag", "&lt;script&gt;", "<p>&lt;script&gt;</p>\n"},
		{"backslash escapes", `\*not em\* \[x\]`, "<p>*not em* [x]</p>\n"},
		{"quotes escaped", `say "hi" it's`, "<p>say &quot;hi&quot; it's</p>\n"},
		{"crlf", "a\r\nb\r\n\r\nc", "<p>a\nb</p>\n<p>c</p>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(renderMarkdown(tt.in, 2)); got != tt.want {
				t.Errorf("renderMarkdown(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRenderMarkdownReports renders the reports disclosure's own tests pin
// (its golden files, the one copy) and compares with reviewed HTML.
func TestRenderMarkdownReports(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(disclosureTestdata, "report_*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			md, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := string(renderMarkdown(string(md), 0))
			golden := filepath.Join("testdata", strings.TrimSuffix(filepath.Base(f), ".md")+".html")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update once and review the file)", err)
			}
			if got != string(want) {
				t.Errorf("rendering of %s changed:\n%s", f, got)
			}
			// Every word of the report is on the page: strip the markup and
			// compare the words with the Markdown's, minus its syntax.
			if a, b := words(stripTags(got)), words(stripMarkdown(string(md))); a != b {
				t.Errorf("text differs from the Markdown:\n got %q\nwant %q", a, b)
			}
		})
	}
}

var (
	tagRE      = regexp.MustCompile(`<[^>]*>`)
	mdSyntaxRE = regexp.MustCompile("(?m)^(#+ |> |>$|\\s*- )|`")
	mdEscapeRE = regexp.MustCompile(`\\([!-/:-@[-` + "`" + `{-~])`)
)

func stripTags(s string) string {
	s = tagRE.ReplaceAllString(s, " ")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&quot;", `"`, "&#39;", "'").Replace(s)
}

func stripMarkdown(s string) string {
	s = mdSyntaxRE.ReplaceAllString(s, " ")
	s = mdEscapeRE.ReplaceAllString(s, "$1")
	return strings.NewReplacer("&lt;", "<", "&gt;", ">").Replace(s)
}

func words(s string) string { return strings.Join(strings.Fields(s), " ") }

// allowedTag is every tag renderMarkdown may emit.
var allowedTag = regexp.MustCompile(`^<(/?(p|h[1-6]|ul|ol|li|blockquote|pre|code|strong|em|a)|hr|br|ol start="\d+"|code class="language-[^"<>]*"|a href="((https?|mailto):[^"]*|[^":/?#]+([/?#][^"]*)?|[/?#][^"]*)"( title="[^"]*")? rel="noopener noreferrer nofollow")>`)

var (
	onAttrRE = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	jsHrefRE = regexp.MustCompile(`(?i)href="\s*(javascript|vbscript|data|file):`)
)

// FuzzRenderMarkdown checks the safety properties on any input: every "<"
// in the output starts one of the renderer's own tags (text is escaped, so
// there is no <script and no on*= attribute), links only ever point at
// http, https, mailto or a relative destination, and the output is bounded
// by the input's size.
func FuzzRenderMarkdown(f *testing.F) {
	for _, s := range []string{
		"# t\n\n> q\n\n- a\n  - b\n\n1. x\n\n```\ncode\n```\n",
		"<script>alert(1)</script>", "[a](javascript:alert(1))", "[a](https://x\"onmouseover=alert(1))",
		"**[l](https://x)** `<b>` &lt;img&gt; <https://a.b/c>", "*a **b** c*", "[[a](http://b)](http://c)",
		"&#x3C;script&#x3E;", "\\<b\\>", "- a\n\n   ```\nx\n", "<javascript:alert(1)>",
		"[a]: https://very.long.example/" + strings.Repeat("x", 200) + "\n\n" + strings.Repeat("[a]", 300),
		"![i](https://p.example/i.png \"t\") <img src=x onerror=alert(1)>", "```\"onload=x\ny\n```",
		"[x](jav&#x61;script:alert(1)) [y](java\\nscript:1) [z](<javascript:1>)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := string(renderMarkdown(in, 1))
		if len(out) > mdMaxOutput(len(in))+len("<pre><code></code></pre>\n")+5*len(in) {
			t.Fatalf("output of %d bytes for %d bytes of input", len(out), len(in))
		}
		lower := strings.ToLower(out)
		if strings.Contains(lower, "<script") {
			t.Fatalf("<script in output of %q", in)
		}
		if m := onAttrRE.FindString(out); m != "" {
			t.Fatalf("event handler attribute %q in output of %q", m, in)
		}
		if m := jsHrefRE.FindString(out); m != "" {
			t.Fatalf("unsafe href %q in output of %q", m, in)
		}
		for i := 0; i < len(out); i++ {
			if out[i] != '<' {
				continue
			}
			if !allowedTag.MatchString(out[i:]) {
				end := min(len(out), i+60)
				t.Fatalf("unexpected markup %q in output of %q", out[i:end], in)
			}
		}
	})
}

// BenchmarkRenderMarkdownPathological: inputs that make naive Markdown
// parsers quadratic (unclosed delimiters, deep quote nesting), at the
// largest field size disclosure accepts.
func BenchmarkRenderMarkdownPathological(b *testing.B) {
	for _, unit := range []string{"*a", "**a ", "[a](", "``a", "> ", "<", "- a\n  "} {
		in := strings.Repeat(unit, 32<<10/len(unit))
		b.Run(strings.TrimSpace(unit), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				renderMarkdown(in, 0)
			}
		})
	}
}

// BenchmarkRenderMarkdownReport renders the largest golden report, as the
// incident page does on every view.
func BenchmarkRenderMarkdownReport(b *testing.B) {
	md, err := os.ReadFile(filepath.Join(disclosureTestdata, "report_decentralized_operational.md"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(md)))
	for b.Loop() {
		renderMarkdown(string(md), 0)
	}
}
