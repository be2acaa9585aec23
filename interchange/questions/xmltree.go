package questions

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
)

// node is an XML element with names normalised so that QTI 2.x
// (choiceInteraction, maxChoices) and QTI 3.0 (qti-choice-interaction,
// max-choices) read the same: local names, lower case, without the "qti-"
// prefix and the dashes. Namespaces are ignored: files in the wild declare
// every version's namespace, or none.
type node struct {
	name     string
	attrs    map[string]string
	children []*node
	text     string // a text node's data (name == "")
}

// maxDepth bounds element nesting (a file of 100,000 nested elements must
// not cost a deep recursion).
const maxDepth = 256

func normName(s string) string {
	s = strings.ToLower(s)
	s = strings.TrimPrefix(s, "qti-")
	return strings.ReplaceAll(s, "-", "")
}

// parseTree reads a whole XML document into nodes.
func parseTree(f Format, data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return r, nil
		}
		return nil, errors.New("only UTF-8 XML is supported, not " + charset)
	}
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, xmlProblem(f, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, malformed(f, 0, "nests elements more than %d deep", maxDepth)
			}
			n := &node{name: normName(t.Name.Local), attrs: map[string]string{}}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
					continue
				}
				n.attrs[normName(a.Name.Local)] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root == nil {
				root = n
			} else {
				return nil, malformed(f, 0, "has more than one root element")
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, &node{text: string(t)})
			}
		}
	}
	if root == nil {
		return nil, malformed(f, 0, "has no root element")
	}
	return root, nil
}

// child is the first child element with the name, or nil.
func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return nil
}

func (n *node) all(name string) []*node {
	var out []*node
	for _, c := range n.children {
		if c.name == name {
			out = append(out, c)
		}
	}
	return out
}

// find lists every descendant element for which match holds, in document
// order, not descending into matches.
func (n *node) find(match func(*node) bool) []*node {
	var out []*node
	var walk func(*node)
	walk = func(m *node) {
		for _, c := range m.children {
			if c.name == "" {
				continue
			}
			if match(c) {
				out = append(out, c)
				continue
			}
			walk(c)
		}
	}
	walk(n)
	return out
}

// plain is the concatenated text of n's subtree.
func (n *node) plain() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		if m.name == "" {
			b.WriteString(m.text)
		}
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// bodyText renders n's subtree as the platform's text, the way htmlToText
// does for HTML, leaving out the elements skip names.
func (n *node) bodyText(skip func(*node) bool) string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		if m.name == "" {
			b.WriteString(strings.Map(func(r rune) rune {
				if r == '\n' || r == '\r' || r == '\t' {
					return ' '
				}
				return r
			}, m.text))
			return
		}
		if skip != nil && skip(m) {
			return
		}
		switch m.name {
		case "br":
			b.WriteByte('\n')
			return
		case "script", "style", "object", "math", "svg", "rubricblock", "stylesheet", "feedbackblock", "feedbackinline", "modalfeedback", "templateblock", "templateinline":
			return
		}
		block := blockNames[m.name]
		if block {
			b.WriteByte('\n')
		}
		for _, c := range m.children {
			walk(c)
		}
		if block {
			b.WriteByte('\n')
		}
	}
	walk(n)
	return tidyLines(b.String())
}

var blockNames = map[string]bool{"p": true, "div": true, "li": true, "ul": true, "ol": true, "tr": true, "table": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "pre": true, "prompt": true,
	"section": true, "article": true, "hr": true, "dl": true, "dt": true, "dd": true}
