package questions

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/examhall/exam/domain"
)

// Problem is a question a file cannot carry (export) or the platform cannot
// represent (import), by its 0-based index.
type Problem struct {
	Index  int    `json:"index"`
	Title  string `json:"title"`
	Reason string `json:"reason"`
}

// NotRepresentableError lists the questions a format cannot carry.
type NotRepresentableError struct {
	Format   Format
	Problems []Problem
}

func (e *NotRepresentableError) Error() string {
	return fmt.Sprintf("%s cannot represent %d of the questions", e.Format, len(e.Problems))
}

// Images gives an exported question's image bytes by id (false: none).
type Images func(id string) ([]byte, bool)

// File is an exported file.
type File struct {
	Data        []byte
	ContentType string
	Extension   string
}

// Export writes the questions in the format. GIFT and Aiken carry no
// images (a question's image is left out); Moodle XML embeds them as
// @@PLUGINFILE@@ files and a QTI 3.0 package as files beside the items.
// What a format has no word for travels in what its readers ignore: points
// in GIFT comments, the negative_points of true/false and multiple-answer
// questions in an <examhall_negative_points> element of Moodle XML.
// Aiken cannot carry multiple-answer or true/false questions, points or
// penalties: a list of those is a *NotRepresentableError.
func Export(f Format, qs []domain.Question, images Images) (File, error) {
	switch f {
	case GIFT:
		return File{Data: ExportGIFT(qs), ContentType: "text/plain; charset=utf-8", Extension: "gift.txt"}, nil
	case Aiken:
		data, err := ExportAiken(qs)
		return File{Data: data, ContentType: "text/plain; charset=utf-8", Extension: "aiken.txt"}, err
	case MoodleXML:
		data, err := ExportMoodleXML(qs, images)
		return File{Data: data, ContentType: "application/xml; charset=utf-8", Extension: "moodle.xml"}, err
	case QTI:
		data, err := ExportQTIPackage(qs, images)
		return File{Data: data, ContentType: "application/zip", Extension: "qti.zip"}, err
	}
	return File{}, fmt.Errorf("questions: unknown format %q", f)
}

func formatNum(v float64) string { return strconv.FormatFloat(round6(v), 'f', -1, 64) }

// percent formats a fraction as Moodle lists them (5 decimals at most).
func percent(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e5)/1e5, 'f', -1, 64)
}

// wrongFraction is the percentage a wrong choice of a single-answer
// question is worth: its penalty relative to the points.
func wrongFraction(q domain.Question) float64 {
	if q.Kind == domain.KindMultiple || q.NegativePoints == 0 {
		return 0
	}
	return -q.NegativePoints / q.Points * 100
}

func isCorrect(q domain.Question, key string) bool {
	for _, k := range q.Correct {
		if k == key {
			return true
		}
	}
	return false
}

// --- GIFT -------------------------------------------------------------

var giftEscaper = strings.NewReplacer(`\`, `\\`, "~", `\~`, "=", `\=`, "#", `\#`, "{", `\{`, "}", `\}`, ":", `\:`, "\n", `\n`)

// ExportGIFT writes the questions as GIFT (see ParseGIFT for the points
// comment).
func ExportGIFT(qs []domain.Question) []byte {
	var b strings.Builder
	b.WriteString("// Exported by examhall. Points are in the examhall comments; Moodle ignores them.\n\n")
	for _, q := range qs {
		var meta []string
		if q.Points != domain.DefaultPoints {
			meta = append(meta, "points="+formatNum(q.Points))
		}
		// A single-answer penalty is written as the wrong answers' weight,
		// which Moodle reads too, unless it exceeds -100%.
		if q.NegativePoints != 0 && (q.Kind != domain.KindSingle || q.NegativePoints > q.Points) {
			meta = append(meta, "negative_points="+formatNum(q.NegativePoints))
		}
		if q.Kind == domain.KindMultiple && len(q.Correct) == 1 {
			meta = append(meta, "kind=multiple")
		}
		if len(meta) > 0 {
			b.WriteString(giftMeta + " " + strings.Join(meta, " ") + "\n")
		}
		b.WriteString(giftEscaper.Replace(q.Text))
		switch q.Kind {
		case domain.KindTrueFalse:
			if isCorrect(q, "true") {
				b.WriteString(" {TRUE}\n\n")
			} else {
				b.WriteString(" {FALSE}\n\n")
			}
			continue
		case domain.KindSingle:
			b.WriteString(" {\n")
			for _, c := range q.Choices {
				if isCorrect(q, c.Key) {
					b.WriteString("\t=" + giftEscaper.Replace(c.Text) + "\n")
				} else if w := wrongFraction(q); w != 0 && w >= -100 {
					b.WriteString("\t~%" + percent(w) + "%" + giftEscaper.Replace(c.Text) + "\n")
				} else {
					b.WriteString("\t~" + giftEscaper.Replace(c.Text) + "\n")
				}
			}
		case domain.KindMultiple:
			b.WriteString(" {\n")
			share := 100 / float64(len(q.Correct))
			for _, c := range q.Choices {
				w := -share
				if isCorrect(q, c.Key) {
					w = share
				}
				b.WriteString("\t~%" + percent(w) + "%" + giftEscaper.Replace(c.Text) + "\n")
			}
		}
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

// --- Aiken ------------------------------------------------------------

// ExportAiken writes single-answer questions of default points as Aiken.
func ExportAiken(qs []domain.Question) ([]byte, error) {
	var problems []Problem
	var b strings.Builder
	for i, q := range qs {
		reason := ""
		switch {
		case q.Kind != domain.KindSingle:
			reason = "Aiken has only single-answer questions, this one is " + string(q.Kind)
		case q.Points != domain.DefaultPoints || q.NegativePoints != 0:
			reason = "Aiken has no points or penalties"
		case len(q.Choices) > 26:
			reason = "Aiken has at most 26 options"
		}
		if reason != "" {
			problems = append(problems, Problem{Index: i, Title: titleFrom(q.Text), Reason: reason})
			continue
		}
		b.WriteString(strings.Join(strings.Fields(q.Text), " ") + "\n")
		answer := ""
		for j, c := range q.Choices {
			letter := string(rune('A' + j))
			b.WriteString(letter + ". " + strings.Join(strings.Fields(c.Text), " ") + "\n")
			if isCorrect(q, c.Key) {
				answer = letter
			}
		}
		b.WriteString("ANSWER: " + answer + "\n\n")
	}
	if len(problems) > 0 {
		return nil, &NotRepresentableError{Format: Aiken, Problems: problems}
	}
	return []byte(b.String()), nil
}

// --- Moodle XML -------------------------------------------------------

// textHTML renders plain text as HTML the importers read back to the same
// text: paragraphs at blank lines, <br> at line ends.
func textHTML(s string) string {
	var paras []string
	for _, p := range strings.Split(s, "\n\n") {
		lines := strings.Split(strings.Trim(p, "\n"), "\n")
		for i, l := range lines {
			var b bytes.Buffer
			_ = xml.EscapeText(&b, []byte(l))
			lines[i] = b.String()
		}
		paras = append(paras, "<p>"+strings.Join(lines, "<br/>")+"</p>")
	}
	return strings.Join(paras, "")
}

func imageExt(data []byte) string {
	switch domain.SniffImageType(data) {
	case domain.ImagePNG:
		return "png"
	case domain.ImageJPEG:
		return "jpg"
	case domain.ImageGIF:
		return "gif"
	}
	return "webp"
}

// ExportMoodleXML writes the questions as a Moodle XML quiz.
func ExportMoodleXML(qs []domain.Question, images Images) ([]byte, error) {
	quiz := mxQuiz{}
	for i, q := range qs {
		mq := mxQuestion{Type: "multichoice", Name: mxRich{Text: fmt.Sprintf("Q%d %s", i+1, titleFrom(q.Text))},
			QuestionText: mxRich{Format: "plain_text", Text: q.Text}, DefaultGrade: formatNum(q.Points)}
		if data, ok := lookup(images, q.ImageID); ok {
			name := q.ImageID[:16] + "." + imageExt(data)
			mq.QuestionText = mxRich{Format: "html", Text: textHTML(q.Text) + `<p><img src="@@PLUGINFILE@@/` + name + `" alt=""/></p>`,
				Files: []mxFile{{Name: name, Path: "/", Encoding: "base64", Data: base64Std(data)}}}
		}
		switch q.Kind {
		case domain.KindTrueFalse:
			mq.Type = "truefalse"
			if q.NegativePoints > 0 {
				mq.NegativePoints = formatNum(q.NegativePoints)
			}
			t, f := "100", "0"
			if !isCorrect(q, "true") {
				t, f = "0", "100"
			}
			mq.Answers = []mxAnswer{{Fraction: t, Format: "moodle_auto_format", Text: "true"}, {Fraction: f, Format: "moodle_auto_format", Text: "false"}}
		case domain.KindSingle, domain.KindMultiple:
			mq.Single = strconv.FormatBool(q.Kind == domain.KindSingle)
			if q.Kind == domain.KindMultiple && q.NegativePoints > 0 {
				mq.NegativePoints = formatNum(q.NegativePoints)
			}
			for _, c := range q.Choices {
				w := wrongFraction(q)
				if q.Kind == domain.KindMultiple {
					w = -100 / float64(len(q.Correct))
				}
				if isCorrect(q, c.Key) {
					w = 100
					if q.Kind == domain.KindMultiple {
						w = 100 / float64(len(q.Correct))
					}
				}
				mq.Answers = append(mq.Answers, mxAnswer{Fraction: percent(w), Format: "plain_text", Text: c.Text})
			}
		}
		quiz.Questions = append(quiz.Questions, mq)
	}
	out, err := xml.MarshalIndent(moodleOut(quiz), "", "  ")
	if err != nil {
		return nil, fmt.Errorf("moodle xml: %w", err)
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// moodleOut adds what Moodle's importer expects of every multichoice
// question (shuffleanswers, answernumbering) to the shared structure.
func moodleOut(q mxQuiz) any {
	type outQuestion struct {
		mxQuestion
		Shuffle   string `xml:"shuffleanswers,omitempty"`
		Numbering string `xml:"answernumbering,omitempty"`
	}
	type outQuiz struct {
		XMLName   xml.Name      `xml:"quiz"`
		Questions []outQuestion `xml:"question"`
	}
	out := outQuiz{}
	for _, mq := range q.Questions {
		oq := outQuestion{mxQuestion: mq}
		if mq.Type == "multichoice" {
			oq.Shuffle, oq.Numbering = "false", "abc"
		}
		out.Questions = append(out.Questions, oq)
	}
	return out
}

func lookup(images Images, id string) ([]byte, bool) {
	if images == nil || id == "" || len(id) < 16 {
		return nil, false
	}
	return images(id)
}

// --- QTI 3.0 package --------------------------------------------------

const (
	qtiNamespace      = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
	qtiCPNamespace    = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
	qtiMapResponseURL = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response"
)

// ExportQTIPackage writes a QTI 3.0 content package: imsmanifest.xml, one
// item per question under items/, and their images under items/images/.
// Scores are a response mapping (map_response): a single-answer question
// maps its right choice to the points and the others to minus the penalty;
// a multiple-answer one maps each right choice to an equal share, each
// wrong one to minus a share, bounded below by minus the penalty.
func ExportQTIPackage(qs []domain.Question, images Images) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	// A fixed time: the same questions give the same bytes.
	when := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(name string, data []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: when})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	var manifest strings.Builder
	manifest.WriteString(xml.Header)
	manifest.WriteString(`<manifest xmlns="` + qtiCPNamespace + `" identifier="examhall-export">` + "\n")
	manifest.WriteString("  <metadata><schema>QTI Package</schema><schemaversion>3.0.0</schemaversion></metadata>\n  <organizations/>\n  <resources>\n")
	for i, q := range qs {
		id := fmt.Sprintf("item-%d", i+1)
		href := "items/" + id + ".xml"
		var imageHref string
		if data, ok := lookup(images, q.ImageID); ok {
			imageHref = "images/" + q.ImageID[:16] + "." + imageExt(data)
			if err := add("items/"+imageHref, data); err != nil {
				return nil, fmt.Errorf("qti package: %w", err)
			}
		}
		if err := add(href, qtiItemXML(id, q, imageHref)); err != nil {
			return nil, fmt.Errorf("qti package: %w", err)
		}
		manifest.WriteString(`    <resource identifier="` + id + `" type="imsqti_item_xmlv3p0" href="` + href + `">` + "\n")
		manifest.WriteString(`      <file href="` + href + `"/>` + "\n")
		if imageHref != "" {
			manifest.WriteString(`      <file href="items/` + imageHref + `"/>` + "\n")
		}
		manifest.WriteString("    </resource>\n")
	}
	manifest.WriteString("  </resources>\n</manifest>\n")
	if err := add("imsmanifest.xml", []byte(manifest.String())); err != nil {
		return nil, fmt.Errorf("qti package: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("qti package: %w", err)
	}
	return buf.Bytes(), nil
}

func attr(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

func qtiItemXML(id string, q domain.Question, imageHref string) []byte {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString(`<qti-assessment-item xmlns="` + qtiNamespace + `" identifier="` + id + `" title="` + attr(titleFrom(q.Text)) +
		`" adaptive="false" time-dependent="false">` + "\n")
	cardinality, maxChoices := "single", "1"
	if q.Kind == domain.KindMultiple {
		cardinality, maxChoices = "multiple", "0"
	}
	b.WriteString(`  <qti-response-declaration identifier="RESPONSE" cardinality="` + cardinality + `" base-type="identifier">` + "\n")
	b.WriteString("    <qti-correct-response>\n")
	for _, k := range q.Correct {
		b.WriteString("      <qti-value>" + attr(k) + "</qti-value>\n")
	}
	b.WriteString("    </qti-correct-response>\n")
	right, wrong := q.Points, -q.NegativePoints
	lower := -q.NegativePoints
	if q.Kind == domain.KindMultiple {
		right = q.Points / float64(len(q.Correct))
		wrong = -right
	}
	b.WriteString(`    <qti-mapping lower-bound="` + formatNum(lower) + `" upper-bound="` + formatNum(q.Points) + `" default-value="0">` + "\n")
	for _, c := range q.Choices {
		v := wrong
		if isCorrect(q, c.Key) {
			v = right
		}
		b.WriteString(`      <qti-map-entry map-key="` + attr(c.Key) + `" mapped-value="` + formatNum(v) + `"/>` + "\n")
	}
	b.WriteString("    </qti-mapping>\n  </qti-response-declaration>\n")
	b.WriteString(`  <qti-outcome-declaration identifier="SCORE" cardinality="single" base-type="float"/>` + "\n")
	b.WriteString(`  <qti-outcome-declaration identifier="MAXSCORE" cardinality="single" base-type="float"><qti-default-value><qti-value>` +
		formatNum(q.Points) + "</qti-value></qti-default-value></qti-outcome-declaration>\n")
	b.WriteString("  <qti-item-body>\n    " + textHTML(q.Text) + "\n")
	if imageHref != "" {
		b.WriteString(`    <p><img src="` + attr(imageHref) + `" alt=""/></p>` + "\n")
	}
	b.WriteString(`    <qti-choice-interaction response-identifier="RESPONSE" max-choices="` + maxChoices + `" shuffle="false">` + "\n")
	for _, c := range q.Choices {
		b.WriteString(`      <qti-simple-choice identifier="` + attr(c.Key) + `">` + attr(c.Text) + "</qti-simple-choice>\n")
	}
	b.WriteString("    </qti-choice-interaction>\n  </qti-item-body>\n")
	b.WriteString(`  <qti-response-processing template="` + qtiMapResponseURL + `"/>` + "\n")
	b.WriteString("</qti-assessment-item>\n")
	return []byte(b.String())
}
