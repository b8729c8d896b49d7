package page

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Every page must be well-formed HTML and meet basic accessibility: one
// h1, headings in order, a language, titled SVG drawings whose every mark
// has a title, labelled controls, and kinds told apart by more than colour.
func TestPagesAreValidAndAccessible(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	for _, path := range []string{
		"/",
		"/breaches/" + d.current.ID,
		"/breaches/" + d.older.ID + "?depth=4&direction=DEPENDENCIES",
		"/context?service=payments&at=2026-11-21T11:50:00Z",
		"/context?service=no-such-service",
		"/context?depth=12",
		"/breaches/missing",
	} {
		t.Run(path, func(t *testing.T) {
			_, body := fetch(t, srv, path)
			for _, err := range wellFormed(body) {
				t.Error(err)
			}
			for _, err := range accessible(parseHTML(t, body)) {
				t.Error(err)
			}
		})
	}
}

// The checkers must catch what they claim to catch.
func TestCheckersCatchMistakes(t *testing.T) {
	page := func(body string) string {
		return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>t</title></head><body><main>` + body + `</main></body></html>`
	}
	tests := []struct {
		name, doc, want string
		structural      bool
	}{
		{"unclosed div", page(`<h1>a</h1><div><p>x</p>`), "while <div> is open", true},
		{"unclosed at the end", `<!doctype html><html lang="en"><body><div>`, "<div> is never closed", true},
		{"misnested", page(`<h1>a</h1><p><a href="/">x</p></a>`), "closes <p> while <a> is open", true},
		{"block in p", page(`<h1>a</h1><p>x<ul><li>y</li></ul></p>`), "<ul> inside <p>", true},
		{"self-closed div", page(`<h1>a</h1><div/>`), "self-closing <div/>", true},
		{"duplicate attribute", page(`<h1 class="a" class="b">a</h1>`), "repeats class", true},
		{"no doctype", `<html lang="en"><body><h1>a</h1></body></html>`, "doctype", true},
		{"two h1", page(`<h1>a</h1><h1>b</h1>`), "2 h1", false},
		{"skipped level", page(`<h1>a</h1><h3>b</h3>`), "h3 follows h1", false},
		{"no lang", strings.Replace(page(`<h1>a</h1>`), ` lang="en"`, "", 1), "lang", false},
		{"untitled svg", page(`<h1>a</h1><svg role="img"><circle r="1"/></svg>`), "svg without a <title>", false},
		{"svg without role", page(`<h1>a</h1><svg><title>x</title></svg>`), `role="img"`, false},
		{"untitled marker", page(`<h1>a</h1><svg role="img" aria-labelledby="x"><title id="x">x</title><g class="marker"><circle r="1"/></g></svg>`), "g.marker without a <title>", false},
		{"empty link", page(`<h1>a</h1><a href="/"></a>`), "link without text", false},
		{"unlabelled input", page(`<h1>a</h1><form><input name="q"></form>`), "input without a label", false},
		{"duplicate id", page(`<h1 id="a">a</h1><p id="a">b</p>`), `id "a" twice`, false},
		{"inline style", page(`<h1 style="color:red">a</h1>`), "style attribute", false},
		{"script", page(`<h1>a</h1><script>1</script>`), "<script>", false},
		{"colour-only kind", page(`<h1>a</h1><span class="kind"><svg class="icon" aria-hidden="true"></svg></span>`), "kind badge without text", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []error
			if tt.structural {
				errs = wellFormed(tt.doc)
			} else {
				if e := wellFormed(tt.doc); len(e) > 0 {
					t.Fatalf("the sample itself is malformed: %v", e)
				}
				errs = accessible(parseHTML(t, tt.doc))
			}
			var all []string
			for _, e := range errs {
				all = append(all, e.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("checker missed %q; said %q", tt.want, all)
			}
		})
	}
}

// attrName matches one attribute in the raw text of a tag after its name.
var attrName = regexp.MustCompile(`\s*([^\s"'>/=]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?`)

var voidElements = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true, "img": true,
	"input": true, "link": true, "meta": true, "source": true, "track": true, "wbr": true,
}

// notInP are elements a <p> cannot contain: the parser would end the
// paragraph before them, silently changing the structure.
var notInP = map[string]bool{
	"address": true, "article": true, "aside": true, "blockquote": true, "details": true, "div": true,
	"dl": true, "fieldset": true, "figcaption": true, "figure": true, "footer": true, "form": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "header": true, "hr": true,
	"main": true, "nav": true, "ol": true, "p": true, "pre": true, "section": true, "table": true, "ul": true,
}

// wellFormed tokenizes doc and reports anything the HTML parser would have
// to repair: a missing doctype, unclosed or misnested elements, block
// elements inside paragraphs, self-closing HTML elements and repeated
// attributes. Inside <svg>, XML rules apply.
func wellFormed(doc string) []error {
	var errs []error
	z := html.NewTokenizer(strings.NewReader(doc))
	var stack []string
	svgDepth := 0
	first := true
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if z.Err() != io.EOF {
				errs = append(errs, z.Err())
			}
			break
		}
		// Attribute names come from the raw tag: the tokenizer drops
		// repeated ones.
		var keys []string
		if tt == html.StartTagToken || tt == html.SelfClosingTagToken {
			raw := string(z.Raw())
			if i := strings.IndexAny(raw, " \t\n\r\f"); i > 0 {
				for _, m := range attrName.FindAllStringSubmatch(raw[i:], -1) {
					keys = append(keys, strings.ToLower(m[1]))
				}
			}
		}
		tok := z.Token()
		if first && tt != html.TextToken {
			if tt != html.DoctypeToken || !strings.EqualFold(tok.Data, "html") {
				errs = append(errs, fmt.Errorf("the document does not start with <!doctype html>"))
			}
			first = false
		}
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			seen := map[string]bool{}
			for _, k := range keys {
				if seen[k] {
					errs = append(errs, fmt.Errorf("<%s> repeats %s", tok.Data, k))
				}
				seen[k] = true
			}
			if notInP[tok.Data] && slices.Contains(stack, "p") && svgDepth == 0 {
				errs = append(errs, fmt.Errorf("<%s> inside <p>", tok.Data))
			}
			if tt == html.SelfClosingTagToken {
				if svgDepth == 0 && !voidElements[tok.Data] {
					errs = append(errs, fmt.Errorf("self-closing <%s/> outside SVG", tok.Data))
				}
				continue
			}
			if voidElements[tok.Data] && svgDepth == 0 {
				continue
			}
			if tok.Data == "svg" {
				svgDepth++
			}
			stack = append(stack, tok.Data)
		case html.EndTagToken:
			if len(stack) == 0 || stack[len(stack)-1] != tok.Data {
				open := "nothing"
				if len(stack) > 0 {
					open = "<" + stack[len(stack)-1] + ">"
				}
				errs = append(errs, fmt.Errorf("</%s> closes <%s> while %s is open", tok.Data, tok.Data, open))
				if i := slices.Index(stack, tok.Data); i >= 0 {
					stack = stack[:i]
				}
				continue
			}
			stack = stack[:len(stack)-1]
			if tok.Data == "svg" {
				svgDepth--
			}
		}
	}
	for _, open := range stack {
		errs = append(errs, fmt.Errorf("<%s> is never closed", open))
	}
	return errs
}

// titledMarks are the SVG marks that must carry their own <title>.
var titledMarks = []struct{ tag, class string }{
	{"g", "marker"}, {"g", "node"}, {"g", "edge"}, {"g", "badge"}, {"g", "lane"},
	{"rect", "shade"}, {"rect", "breach-band"}, {"text", "edge-label"},
}

// accessible checks the parsed page.
func accessible(doc *html.Node) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	htmlEl := findAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Html })
	if len(htmlEl) != 1 || attr(htmlEl[0], "lang") == "" {
		bad("<html> has no lang attribute")
	}
	if titles := findAll(doc, func(n *html.Node) bool { return n.DataAtom == atom.Title && n.Parent.DataAtom == atom.Head }); len(titles) != 1 || text(titles[0]) == "" {
		bad("the page has no <title>")
	}
	if vp := findAll(doc, func(n *html.Node) bool { return n.Data == "meta" && attr(n, "name") == "viewport" }); len(vp) != 1 {
		bad("no viewport meta tag: phones would draw a desktop page")
	}
	if len(byTag(doc, "main")) != 1 {
		bad("want exactly one <main>")
	}

	// Headings: one h1, and no level skipped on the way down.
	var levels []int
	for _, h := range findAll(doc, func(n *html.Node) bool {
		return len(n.Data) == 2 && n.Data[0] == 'h' && n.Data[1] >= '1' && n.Data[1] <= '6'
	}) {
		l, _ := strconv.Atoi(h.Data[1:])
		if text(h) == "" {
			bad("empty <%s>", h.Data)
		}
		if len(levels) > 0 && l > levels[len(levels)-1]+1 {
			bad("h%d follows h%d", l, levels[len(levels)-1])
		}
		levels = append(levels, l)
	}
	h1s := 0
	for _, l := range levels {
		if l == 1 {
			h1s++
		}
	}
	if n := h1s; len(levels) == 0 || levels[0] != 1 || n != 1 {
		bad("want one h1 before every other heading; headings are %v (%d h1)", levels, n)
	}

	ids := map[string]bool{}
	for _, n := range findAll(doc, func(n *html.Node) bool { return hasAttr(n, "id") }) {
		id := attr(n, "id")
		if ids[id] {
			bad("id %q twice", id)
		}
		ids[id] = true
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { return hasAttr(n, "aria-labelledby") }) {
		for _, ref := range strings.Fields(attr(n, "aria-labelledby")) {
			if !ids[ref] {
				bad("aria-labelledby names missing id %q", ref)
			}
		}
	}

	// The policy forbids inline styles and scripts; the page must not need them.
	for _, n := range findAll(doc, func(n *html.Node) bool { return hasAttr(n, "style") }) {
		bad("<%s> has a style attribute (blocked by the Content-Security-Policy)", n.Data)
	}
	if s := byTag(doc, "script"); len(s) > 0 {
		bad("the page has a <script>")
	}

	// SVG drawings: role img with a title, or hidden as decoration.
	for _, svg := range byTag(doc, "svg") {
		if attr(svg, "aria-hidden") == "true" {
			continue
		}
		if attr(svg, "role") != "img" {
			bad(`svg#%s lacks role="img"`, attr(svg, "id"))
		}
		if childTitle(svg) == "" {
			bad("svg without a <title>")
		}
	}
	for _, m := range titledMarks {
		for _, n := range byClass(doc, m.tag, m.class) {
			if childTitle(n) == "" {
				bad("%s.%s without a <title> (%s)", m.tag, m.class, attr(n, "data-service"))
			}
		}
	}
	// Colour is never the only signal: markers and badges carry a letter,
	// kind badges a word, failing edges a label.
	for _, cls := range []string{"marker", "badge"} {
		for _, n := range byClass(doc, "g", cls) {
			letters := byClass(n, "text", "letter")
			if len(letters) != 1 || text(letters[0]) == "" {
				bad("g.%s without its letter", cls)
			}
		}
	}
	for _, k := range byClass(doc, "span", "kind") {
		if len(byClass(k, "span", "kind-label")) != 1 || text(k) == "" {
			bad("kind badge without text")
		}
	}
	labelled := map[string]bool{}
	for _, l := range byClass(doc, "text", "edge-label") {
		labelled[attr(l, "data-edge")] = true
	}
	for _, e := range byClass(doc, "g", "edge") {
		if hasClass(e, "hot") && !labelled[attr(e, "data-edge")] {
			bad("failing edge %s is shown by colour alone", attr(e, "data-edge"))
		}
	}

	// Links and form fields have names.
	for _, a := range byTag(doc, "a") {
		if text(a) == "" && childTitle(a) == "" && attr(a, "aria-label") == "" {
			if g := findAll(a, func(n *html.Node) bool { return n.Data == "g" && childTitle(n) != "" }); len(g) == 0 {
				bad("link without text: %s", attr(a, "href"))
			}
		}
	}
	for _, in := range byTag(doc, "input") {
		if in.Parent == nil || in.Parent.Data != "label" {
			bad("input without a label: %s", attr(in, "name"))
		}
	}
	// Lists hold list items; description lists hold terms and details.
	for _, l := range findAll(doc, func(n *html.Node) bool { return n.Data == "ul" || n.Data == "ol" }) {
		for c := l.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data != "li" {
				bad("<%s> inside <%s>", c.Data, l.Data)
			}
		}
	}
	for _, dl := range byTag(doc, "dl") {
		for c := dl.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.Data != "div" && c.Data != "dt" && c.Data != "dd" {
				bad("<%s> inside <dl>", c.Data)
			}
		}
	}
	return errs
}
