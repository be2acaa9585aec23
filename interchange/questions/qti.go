package questions

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/examhall/exam/domain"
)

// IMS QTI (www.imsglobal.org/spec/qti/v3p0): an assessmentItem (2.1, 2.2)
// or qti-assessment-item (3.0) whose body holds one choiceInteraction is a
// question: max-choices 1 (and cardinality single) a single-answer one,
// otherwise a multiple-answer one; choices whose identifiers are exactly
// "true" and "false" a true/false one. The correct response names the right
// choices; a mapping, when present, gives the points (what the right
// answers are worth) and the penalties (what a wrong choice takes away, or
// the lower bound of a multiple-answer question). Without a mapping a
// question is worth MAXSCORE's default value, or 1. Choice identifiers
// become choice keys when they fit (at most 16 characters, unique), so an
// exported item imports back with its keys.
//
// Items with any other interaction, or with more than one, are unsupported.
// Content packages (a zip with imsmanifest.xml) list their items as
// resources of type imsqti_item_xmlv3p0, imsqti_item_xmlv2p1 and so on; we
// read them in manifest order, with the images their bodies show.

// Package is a content package's files, opened by the caller (bounded by
// internal/safezip in the API).
type Package interface {
	ReadFile(name string) ([]byte, error)
}

// ParseQTIItem reads one QTI item document.
func ParseQTIItem(data []byte) ([]Item, error) {
	root, err := parseTree(QTI, data)
	if err != nil {
		return nil, err
	}
	if root.name != "assessmentitem" {
		return nil, malformed(QTI, 0, "the root element is <%s>, not a QTI assessment item (or a package's imsmanifest.xml)", root.name)
	}
	it, err := qtiItem(root, "", nil)
	if err != nil {
		return nil, err
	}
	return finish(QTI, []Item{it})
}

// ParseQTIPackage reads a content package.
func ParseQTIPackage(p Package) ([]Item, error) {
	data, err := p.ReadFile("imsmanifest.xml")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err != nil {
		return nil, malformed(QTI, 0, "the zip has no readable imsmanifest.xml at its root: not a QTI content package")
	}
	manifest, err := parseTree(QTI, data)
	if err != nil {
		return nil, fmt.Errorf("imsmanifest.xml: %w", err)
	}
	var hrefs []string
	for _, res := range manifest.find(func(n *node) bool { return n.name == "resource" }) {
		if strings.Contains(strings.ToLower(res.attrs["type"]), "imsqti_item") && res.attrs["href"] != "" {
			hrefs = append(hrefs, res.attrs["href"])
		}
	}
	if len(hrefs) == 0 {
		return nil, malformed(QTI, 0, "the package's imsmanifest.xml lists no QTI item resources")
	}
	if len(hrefs) > MaxItems {
		return nil, malformed(QTI, 0, "holds more than %d questions", MaxItems)
	}
	items := make([]Item, 0, len(hrefs))
	for _, href := range hrefs {
		name := path.Clean(strings.TrimPrefix(href, "./"))
		doc, err := p.ReadFile(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err != nil {
			return nil, malformed(QTI, 0, "the manifest lists %s, which the package does not hold", href)
		}
		root, err := parseTree(QTI, doc)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if root.name != "assessmentitem" {
			return nil, malformed(QTI, 0, "%s is not an assessment item", name)
		}
		it, err := qtiItem(root, path.Dir(name), p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		items = append(items, it)
	}
	return finish(QTI, items)
}

func isInteraction(n *node) bool { return strings.HasSuffix(n.name, "interaction") }

func qtiItem(root *node, dir string, p Package) (Item, error) {
	it := Item{Title: cleanLine(root.attrs["title"])}
	if it.Title == "" {
		it.Title = cleanLine(root.attrs["identifier"])
	}
	body := root.child("itembody")
	if body == nil {
		return it, malformed(QTI, 0, "item %q has no item body", it.Title)
	}
	interactions := body.find(isInteraction)
	text := body.bodyText(isInteraction)
	switch {
	case len(interactions) == 0:
		it.Question.Text = text
		it.Unsupported = "has no interaction to answer"
		return it, nil
	case len(interactions) > 1:
		it.Question.Text = text
		it.Unsupported = "has more than one interaction"
		return it, nil
	}
	ci := interactions[0]
	if prompt := ci.child("prompt"); prompt != nil {
		text = strings.TrimSpace(text + "\n\n" + prompt.bodyText(nil))
	}
	it.Question.Text = text
	if ci.name != "choiceinteraction" {
		it.Unsupported = "is a " + ci.name + " question"
		return it, nil
	}
	if reason, err := qtiImage(&it, body, dir, p); err != nil || reason != "" {
		it.Unsupported = reason
		return it, err
	}

	var decl *node
	for _, d := range root.all("responsedeclaration") {
		if d.attrs["identifier"] == ci.attrs["responseidentifier"] {
			decl = d
		}
	}
	if decl == nil {
		return it, malformed(QTI, 0, "item %q declares no response %q", it.Title, ci.attrs["responseidentifier"])
	}
	choices := ci.find(func(n *node) bool { return n.name == "simplechoice" })
	ids := make([]string, len(choices))
	answers := make([]answer, len(choices))
	keysFit := true
	for i, c := range choices {
		ids[i] = strings.TrimSpace(c.attrs["identifier"])
		if len(c.find(func(n *node) bool { return n.name == "img" })) > 0 {
			it.Unsupported = "has images in its choices"
			return it, nil
		}
		answers[i].text = cleanLine(c.bodyText(nil))
		if ids[i] == "" || len(ids[i]) > domain.MaxChoiceKeyLen || slices.Contains(ids[:i], ids[i]) {
			keysFit = false
		}
	}
	if keysFit {
		for i := range answers {
			answers[i].key = ids[i]
		}
	}
	var correct []string
	if cr := decl.child("correctresponse"); cr != nil {
		for _, v := range cr.all("value") {
			correct = append(correct, strings.TrimSpace(v.plain()))
		}
	}
	mapping := map[string]float64{}
	var defaultValue, lowerBound, upper float64
	hasMapping := false
	if m := decl.child("mapping"); m != nil {
		hasMapping = true
		defaultValue, _ = strconv.ParseFloat(m.attrs["defaultvalue"], 64)
		lowerBound, _ = strconv.ParseFloat(m.attrs["lowerbound"], 64)
		upper, _ = strconv.ParseFloat(m.attrs["upperbound"], 64)
		for _, e := range m.all("mapentry") {
			v, err := strconv.ParseFloat(e.attrs["mappedvalue"], 64)
			if err != nil {
				return it, malformed(QTI, 0, "item %q maps %q to %q, not a number", it.Title, e.attrs["mapkey"], e.attrs["mappedvalue"])
			}
			mapping[e.attrs["mapkey"]] = v
		}
		if len(correct) == 0 {
			for _, id := range ids {
				if mapping[id] > 0 {
					correct = append(correct, id)
				}
			}
		}
	}
	for _, k := range correct {
		if !slices.Contains(ids, k) {
			return it, malformed(QTI, 0, "item %q gives the correct response %q, which is not a choice", it.Title, k)
		}
	}
	if len(correct) == 0 {
		it.Unsupported = "has no correct response"
		return it, nil
	}
	maxChoices := 1
	if v, ok := ci.attrs["maxchoices"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return it, malformed(QTI, 0, "item %q has max-choices %q", it.Title, v)
		}
		maxChoices = n
	}
	multiple := maxChoices != 1 || decl.attrs["cardinality"] == "multiple"

	// Points: MAXSCORE's default, else the mapping's upper bound, else
	// what the right choices map to, else 1 (the first that is given:
	// shares of a multiple-answer question are rounded, the bounds not).
	points := float64(domain.DefaultPoints)
	if v := outcomeDefault(root, "MAXSCORE"); v > 0 {
		points = v
	} else if hasMapping {
		sum := 0.0
		for _, k := range correct {
			sum += mapping[k]
		}
		if upper > 0 {
			points = upper
		} else if sum > 0 {
			points = round6(sum)
		}
	}

	if !multiple && len(ids) == 2 && len(correct) == 1 && slices.Contains(ids, "true") && slices.Contains(ids, "false") {
		it.Question = trueFalse(text, correct[0] == "true", points)
		if wrong := qtiPenalty(ids, correct, mapping, defaultValue, hasMapping); wrong < 0 {
			neg := round6(-wrong)
			it.Question.NegativePoints = &neg
		}
		return it, nil
	}
	for i, id := range ids {
		switch {
		case !slices.Contains(correct, id):
			if hasMapping && !multiple {
				v, ok := mapping[id]
				if !ok {
					v = defaultValue
				}
				answers[i].fraction = v / points * 100
			}
		case multiple:
			answers[i].fraction = 100 / float64(len(correct))
		default:
			answers[i].fraction = 100
		}
	}
	if !multiple && len(correct) > 1 {
		it.Unsupported = "takes one choice but names several correct responses"
		return it, nil
	}
	it.Question, it.Unsupported = fromAnswers(text, answers, points, multiple)
	if multiple && hasMapping && lowerBound < 0 {
		neg := round6(-lowerBound)
		it.Question.NegativePoints = &neg
	}
	return it, nil
}

// qtiPenalty is what a wrong choice of a single-answer item is worth.
func qtiPenalty(ids, correct []string, mapping map[string]float64, defaultValue float64, hasMapping bool) float64 {
	if !hasMapping {
		return 0
	}
	for _, id := range ids {
		if !slices.Contains(correct, id) {
			if v, ok := mapping[id]; ok {
				return v
			}
			return defaultValue
		}
	}
	return 0
}

func outcomeDefault(root *node, id string) float64 {
	for _, o := range root.all("outcomedeclaration") {
		if o.attrs["identifier"] != id {
			continue
		}
		if d := o.child("defaultvalue"); d != nil {
			if v := d.child("value"); v != nil {
				f, _ := strconv.ParseFloat(strings.TrimSpace(v.plain()), 64)
				return f
			}
		}
	}
	return 0
}

// qtiImage takes the one image the item body shows (outside the
// interaction) from the package.
func qtiImage(it *Item, body *node, dir string, p Package) (string, error) {
	imgs := body.find(func(n *node) bool { return n.name == "img" || isInteraction(n) })
	var srcs []string
	for _, n := range imgs {
		if n.name == "img" && n.attrs["src"] != "" {
			srcs = append(srcs, n.attrs["src"])
		}
	}
	if len(srcs) == 0 {
		return "", nil
	}
	if len(srcs) > 1 {
		return "shows more than one image (a question has at most one)", nil
	}
	if p == nil {
		return "shows an image, which only a content package can carry", nil
	}
	name := path.Clean(path.Join(dir, srcs[0]))
	if name == ".." || strings.HasPrefix(name, "../") || strings.HasPrefix(name, "/") || strings.Contains(srcs[0], ":") {
		return "shows an image from outside the package", nil
	}
	data, err := p.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	if err != nil {
		return "shows the image " + strconv.Quote(srcs[0]) + ", which the package does not hold", nil
	}
	it.Image = data
	return "", nil
}
