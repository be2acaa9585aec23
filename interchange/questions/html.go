package questions

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText turns the HTML of a question or answer into the platform's
// plain text: parsed by golang.org/x/net/html (the HTML5 algorithm, so
// entities are decoded and broken markup is read as browsers read it),
// text nodes kept, scripts, styles and other non-content dropped, block
// elements and <br> becoming line breaks. Nothing of the markup survives,
// so no tag or attribute a file carries reaches a student's page.
func htmlToText(s string) string {
	root, err := html.Parse(strings.NewReader("<body>" + s))
	if err != nil {
		return cleanText(s)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			// Whitespace runs become one space; lines are trimmed below.
			b.WriteString(strings.Map(func(r rune) rune {
				if r == '\n' || r == '\r' || r == '\t' || r == '\f' {
					return ' '
				}
				return r
			}, n.Data))
			return
		case html.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Template, atom.Iframe, atom.Object, atom.Noscript, atom.Svg, atom.Math:
				return
			case atom.Br:
				b.WriteByte('\n')
				return
			}
		}
		block := n.Type == html.ElementNode && isBlock(n.DataAtom)
		if block {
			b.WriteByte('\n')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
		if block {
			b.WriteByte('\n')
		}
	}
	walk(root)
	return tidyLines(b.String())
}

// tidyLines collapses the spaces of each line and runs of blank lines (the
// block structure of markup leaves many) into one.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := false
	for _, l := range lines {
		l = strings.Join(strings.Fields(l), " ")
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return cleanText(strings.Join(out, "\n"))
}

func isBlock(a atom.Atom) bool {
	switch a {
	case atom.P, atom.Div, atom.Li, atom.Ul, atom.Ol, atom.Tr, atom.Table, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
		atom.Blockquote, atom.Pre, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Dl, atom.Dt, atom.Dd, atom.Hr:
		return true
	}
	return false
}

// htmlImages lists the src of each <img> of an HTML text, in order.
func htmlImages(s string) []string {
	root, err := html.Parse(strings.NewReader("<body>" + s))
	if err != nil {
		return nil
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.DataAtom == atom.Img {
			for _, a := range n.Attr {
				if a.Key == "src" {
					out = append(out, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return out
}
