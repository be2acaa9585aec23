package questions

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
)

// IsZip reports whether data starts like a zip archive (a QTI package).
func IsZip(data []byte) bool { return bytes.HasPrefix(data, []byte("PK\x03\x04")) }

var aikenAnswer = regexp.MustCompile(`(?mi)^[ \t]*ANSWER[ \t]*:[ \t]*[A-Z][ \t]*$`)

// Detect tells a file's format from its content: a zip is a QTI package;
// XML is Moodle XML (<quiz>) or a QTI item (assessmentItem,
// qti-assessment-item); text with "ANSWER: X" lines and no braces is Aiken;
// other text with braces is GIFT. False when it cannot tell.
func Detect(data []byte) (Format, bool) {
	if IsZip(data) {
		return QTI, true
	}
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("<")) {
		switch rootName(trimmed) {
		case "quiz":
			return MoodleXML, true
		case "assessmentitem":
			return QTI, true
		}
		return "", false
	}
	if aikenAnswer.Match(data) && !bytes.ContainsAny(data, "{}") {
		return Aiken, true
	}
	if bytes.Contains(data, []byte("{")) {
		return GIFT, true
	}
	return "", false
}

// rootName is the normalised local name of the first element, or "".
func rootName(data []byte) string {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(string, io.Reader) (io.Reader, error) { return nil, errors.New("charset") }
	for i := 0; i < 64; i++ {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			return normName(se.Name.Local)
		}
	}
	return ""
}

// Parse reads a file in the format; a QTI zip package must go through
// ParseQTIPackage (the caller opens it with its size limits).
func Parse(f Format, data []byte) ([]Item, error) {
	switch f {
	case GIFT:
		return ParseGIFT(data)
	case Aiken:
		return ParseAiken(data)
	case MoodleXML:
		return ParseMoodleXML(data)
	case QTI:
		if IsZip(data) {
			return nil, malformed(QTI, 0, "is a zip package: open it with ParseQTIPackage")
		}
		return ParseQTIItem(data)
	}
	return nil, malformed(f, 0, "is not a known format")
}
