package questions

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/examhall/exam/domain"
)

// Moodle XML (docs.moodle.org/en/Moodle_XML_format): a <quiz> of
// <question type="…">. We read multichoice (single and multiple, answer
// fractions), truefalse and category (ignored: categories are Moodle's
// folders, our exams have none); every other type is unsupported. Question
// and answer texts are HTML by default and become plain text (htmlToText);
// <defaultgrade> is the points. An image the question text shows as
// @@PLUGINFILE@@/name, embedded as a base64 <file name="name">, becomes the
// question's image (one per question; images in answers are unsupported).
//
// encoding/xml reads the file: it expands no external entities and fetches
// nothing, so a hostile DTD cannot reach the file system or the network.

type mxQuiz struct {
	XMLName   xml.Name     `xml:"quiz"`
	Questions []mxQuestion `xml:"question"`
}

type mxQuestion struct {
	Type         string     `xml:"type,attr"`
	Name         mxRich     `xml:"name"`
	QuestionText mxRich     `xml:"questiontext"`
	DefaultGrade string     `xml:"defaultgrade"`
	Single       string     `xml:"single"`
	Answers      []mxAnswer `xml:"answer"`
	// NegativePoints is ours: what a wrong true/false answer costs, or a
	// multiple-answer question below 0, which Moodle's grading has no word
	// for (its importer skips elements it does not know).
	NegativePoints string `xml:"examhall_negative_points,omitempty"`
}

type mxRich struct {
	Format string   `xml:"format,attr,omitempty"`
	Text   string   `xml:"text"`
	Files  []mxFile `xml:"file"`
}

type mxFile struct {
	Name     string `xml:"name,attr"`
	Path     string `xml:"path,attr"`
	Encoding string `xml:"encoding,attr"`
	Data     string `xml:",chardata"`
}

type mxAnswer struct {
	Fraction string   `xml:"fraction,attr"`
	Format   string   `xml:"format,attr,omitempty"`
	Text     string   `xml:"text"`
	Files    []mxFile `xml:"file"`
}

// ParseMoodleXML reads a Moodle XML file.
func ParseMoodleXML(data []byte) ([]Item, error) {
	var quiz mxQuiz
	if err := decodeXML(data, &quiz); err != nil {
		return nil, xmlProblem(MoodleXML, err)
	}
	var items []Item
	for _, q := range quiz.Questions {
		if q.Type == "category" {
			continue
		}
		items = append(items, moodleItem(q))
		if len(items) > MaxItems {
			return nil, malformed(MoodleXML, 0, "holds more than %d questions", MaxItems)
		}
	}
	return finish(MoodleXML, items)
}

// decodeXML decodes with the standard library's safe defaults, refusing
// trailing garbage after the root element.
func decodeXML(data []byte, v any) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(charset, "utf-8") || strings.EqualFold(charset, "us-ascii") {
			return r, nil
		}
		return nil, errors.New("only UTF-8 XML is supported, not " + charset)
	}
	return dec.Decode(v)
}

func xmlProblem(f Format, err error) error {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return malformed(f, se.Line, "is not well-formed XML: %s", se.Msg)
	}
	var ue xml.UnmarshalError
	if errors.As(err, &ue) {
		return malformed(f, 0, "%s", string(ue))
	}
	if errors.Is(err, io.EOF) {
		return malformed(f, 0, "is empty")
	}
	return malformed(f, 0, "is not readable XML: %v", err)
}

func richText(r mxRich) string {
	switch r.Format {
	case "plain_text", "markdown", "moodle_auto_format":
		return cleanText(r.Text)
	}
	return htmlToText(r.Text)
}

func moodleItem(q mxQuestion) Item {
	it := Item{Title: cleanLine(q.Name.Text)}
	text := richText(q.QuestionText)
	it.Question.Text = text
	points := float64(domain.DefaultPoints)
	if g := strings.TrimSpace(q.DefaultGrade); g != "" {
		v, err := strconv.ParseFloat(g, 64)
		if err != nil {
			it.Unsupported = "its defaultgrade " + strconv.Quote(g) + " is not a number"
			return it
		}
		points = v
	}
	switch q.Type {
	case "multichoice", "truefalse":
	case "":
		it.Unsupported = "has no type"
		return it
	default:
		it.Unsupported = "is a " + q.Type + " question"
		return it
	}
	img, reason := pluginImage(q.QuestionText)
	if reason != "" {
		it.Unsupported = reason
		return it
	}
	it.Image = img
	answers := make([]answer, 0, len(q.Answers))
	for i, a := range q.Answers {
		if len(a.Files) > 0 || len(htmlImages(a.Text)) > 0 && a.Format != "plain_text" {
			it.Unsupported = "has images in its answers"
			return it
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(a.Fraction), 64)
		if err != nil {
			it.Unsupported = "answer " + strconv.Itoa(i+1) + " has no fraction"
			return it
		}
		answers = append(answers, answer{text: cleanLine(richText(mxRich{Format: a.Format, Text: a.Text})), fraction: f})
	}
	if q.Type == "truefalse" {
		for _, a := range answers {
			if a.fraction > 100-tolerance {
				switch strings.ToLower(a.text) {
				case "true", "false":
					it.Question = trueFalse(text, strings.EqualFold(a.text, "true"), points)
					it.Unsupported = ourNegativePoints(&it.Question, q.NegativePoints)
					return it
				}
			}
		}
		it.Unsupported = "is a true/false question without an answer \"true\" or \"false\" worth 100%"
		return it
	}
	single := strings.TrimSpace(strings.ToLower(q.Single))
	it.Question, it.Unsupported = fromAnswers(text, answers, points, single == "false" || single == "0")
	if it.Unsupported == "" && it.Question.Kind == domain.KindMultiple {
		it.Unsupported = ourNegativePoints(&it.Question, q.NegativePoints)
	}
	return it
}

// ourNegativePoints applies <examhall_negative_points> (see Export).
func ourNegativePoints(q *domain.QuestionInput, v string) string {
	if v = strings.TrimSpace(v); v == "" {
		return ""
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return "its examhall_negative_points " + strconv.Quote(v) + " is not a number"
	}
	q.NegativePoints = &n
	return ""
}

// pluginImage finds the one @@PLUGINFILE@@ image a question text shows.
func pluginImage(r mxRich) ([]byte, string) {
	if r.Format == "plain_text" || r.Format == "markdown" {
		return nil, ""
	}
	var names []string
	for _, src := range htmlImages(r.Text) {
		if rest, ok := strings.CutPrefix(src, "@@PLUGINFILE@@/"); ok {
			if n, err := url.PathUnescape(rest); err == nil {
				rest = n
			}
			names = append(names, rest)
		}
	}
	switch len(names) {
	case 0:
		return nil, ""
	case 1:
	default:
		return nil, "shows more than one image (a question has at most one)"
	}
	for _, f := range r.Files {
		if strings.TrimPrefix(strings.TrimPrefix(f.Path, "/")+f.Name, "/") != strings.TrimPrefix(names[0], "/") && f.Name != names[0] {
			continue
		}
		if f.Encoding != "" && f.Encoding != "base64" {
			return nil, "its image is not base64-encoded"
		}
		clean := strings.Map(func(r rune) rune {
			if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
				return -1
			}
			return r
		}, f.Data)
		if base64.StdEncoding.DecodedLen(len(clean)) > 2*domain.MaxImageBytes {
			return nil, "its image is larger than 2 MiB"
		}
		data, err := base64.StdEncoding.DecodeString(clean)
		if err != nil {
			return nil, "its image is not valid base64"
		}
		return data, ""
	}
	return nil, "shows the image " + strconv.Quote(names[0]) + " but does not embed it"
}

func base64Std(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
