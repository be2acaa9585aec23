package questions

import (
	"strings"
	"testing"

	"github.com/examhall/exam/domain"
)

func TestParseGIFT(t *testing.T) {
	t.Parallel()
	items, err := ParseGIFT(fixture(t, "awkward.gift"))
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, items, []want{
		{Title: "Powerhouse", Text: "What is the powerhouse of the cell?", Kind: domain.KindSingle,
			Choices: []string{"Nucleus", "Mitochondrion", "Ribosome"}, Keys: []string{"a", "b", "c"}, Correct: []string{"b"}, Points: 1},
		{Title: "Escapes: all of them", Text: `Which is written {a} = b ~ c # d\?`, Kind: domain.KindSingle,
			Choices: []string{"{a} = b", "a ~ b", "100% sure #1"}, Correct: []string{"a"}, Points: 1},
		{Title: "A question that runs over three lines.", Text: "A question\nthat runs over\nthree lines.", Kind: domain.KindSingle,
			Choices: []string{"yes", "no"}, Correct: []string{"a"}, Points: 1},
		{Title: "Organelles", Text: "Which are organelles & not tissue?", Kind: domain.KindMultiple,
			Choices: []string{"Golgi body", "Plasma", "Lysosome", "Sand"}, Correct: []string{"a", "c"}, Points: 1},
		{Text: "Plant cells have walls.", Kind: domain.KindTrueFalse, Correct: []string{"true"}, Points: 1},
		{Text: "Animal cells have walls.", Kind: domain.KindTrueFalse, Correct: []string{"false"}, Points: 1},
		{Text: "The sun _____ the earth? No: the earth orbits the sun.", Kind: domain.KindSingle,
			Choices: []string{"orbits", "is orbited by", "ignores"}, Correct: []string{"b"}, Points: 1},
		{Title: "Penalty", Text: "Pick the prime.", Kind: domain.KindSingle, Choices: []string{"7", "8", "9", "10"},
			Correct: []string{"a"}, Points: 1, Negative: 0.25},
		{Title: "Essay", Unsupported: "essay"},
		{Title: "Numeric", Unsupported: "numeric"},
		{Title: "Short", Unsupported: "short-answer"},
		{Title: "Match", Unsupported: "matching"},
		{Unsupported: "description"},
	})
}

func TestParseGIFTPointsComment(t *testing.T) {
	t.Parallel()
	items, err := ParseGIFT([]byte("// examhall: points=2.5 negative_points=1 kind=multiple\nQ {~%100%a ~%-100%b}\n\n// examhall: points=3\nR {T}\n"))
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, items, []want{
		{Text: "Q", Kind: domain.KindMultiple, Choices: []string{"a", "b"}, Correct: []string{"a"}, Points: 2.5, Negative: 1},
		{Text: "R", Kind: domain.KindTrueFalse, Correct: []string{"true"}, Points: 3},
	})
}

func TestParseGIFTMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, reason string }{
		{"no closing brace", "Q1 {=a ~b}\n\nQ2 {=a\n~b\n", "line 3: the answers' { has no closing }"},
		{"unclosed title", "::Title Q {=a ~b}", "line 1: the title's :: has no closing ::"},
		{"text before the answers", "Q {x =a ~b}", "the answers must start with = or ~"},
		{"bad weight", "Q {~%abc%a =b}", `weight "abc" is not a number`},
		{"unclosed weight", "Q {~%50 a =b}", "has no closing %"},
		{"brace in answers", "Q {=a {b} ~c}", `a { inside the answers must be escaped`},
		{"stray closing brace", "Q {=a ~b} and }", "a } outside the answers must be escaped"},
		{"not utf-8", "Q {=\xff ~b}", "is not UTF-8 text"},
		{"empty", "// nothing\n\n", "holds no questions"},
		{"bad comment", "// examhall: points=x\nQ {=a ~b}", "the examhall comment must read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGIFT([]byte(tc.data))
			wantMalformed(t, err, tc.reason)
		})
	}
}

func TestParseAiken(t *testing.T) {
	t.Parallel()
	items, err := ParseAiken(fixture(t, "bank.aiken"))
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, items, []want{
		{Text: "What is the correct answer to this question?", Kind: domain.KindSingle,
			Choices: []string{"Is it this one?", "Maybe this answer?", "Possibly this one?"}, Correct: []string{"a"}, Points: 1},
		{Text: "Which LMS has the most quiz import formats?", Kind: domain.KindSingle,
			Choices: []string{"Moodle", "ATutor", "Claroline", "Blackboard", "WebCT", "Ilias"}, Correct: []string{"a"}, Points: 1},
	})
}

func TestParseAikenMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, reason string }{
		{"no answer line", "Q?\nA. x\nB. y\n", "line 1: the question has no ANSWER: line"},
		{"answer not an option", "Q?\nA. x\nB. y\nANSWER: C\n", `line 4: ANSWER: "C" is not the letter`},
		{"one option", "Q?\nA. x\nANSWER: A\n", "at least two options"},
		{"answer first", "ANSWER: A\n", "ANSWER: without a question"},
		{"options out of order", "Q?\nA. x\nC. y\nANSWER: A\n", "option C. comes out of order"},
		{"text after options", "Q?\nA. x\nB. y\nmore text\nANSWER: A\n", "line 4: expected another option"},
		{"empty", "\n\n", "holds no questions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseAiken([]byte(tc.data))
			wantMalformed(t, err, tc.reason)
		})
	}
}

func TestParseMoodleXML(t *testing.T) {
	t.Parallel()
	items, err := ParseMoodleXML(fixture(t, "bank.xml"))
	if err != nil {
		t.Fatal(err)
	}
	checkItems(t, items, []want{
		{Title: "Entities & HTML", Text: "Is 2 < 3 && 3 > 2?\n\nLook:", Kind: domain.KindSingle,
			Choices: []string{"Yes — both", "No", "Only the first"}, Correct: []string{"a"}, Points: 2, Negative: 1, Image: true},
		{Title: "Primes", Text: "Which are prime?", Kind: domain.KindMultiple, Choices: []string{"2", "3", "4", "5"},
			Correct: []string{"a", "b", "d"}, Points: 3},
		{Title: "Water", Text: "Water boils at 100 °C at sea level.", Kind: domain.KindTrueFalse, Correct: []string{"true"}, Points: 1},
		{Title: "Essay", Unsupported: "is a essay question"},
		{Title: "Partial", Unsupported: "partial credit on a single answer"},
	})
	if domain.SniffImageType(items[0].Image) != domain.ImagePNG {
		t.Fatalf("the embedded image is not the PNG: % x", items[0].Image[:8])
	}
	if strings.Contains(items[0].Question.Text, "alert") {
		t.Fatal("a script's text reached the question")
	}
}

func TestParseMoodleXMLMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, reason string }{
		{"not xml", "<quiz><question type=\"multichoice\">\n<name></quiz>", "line 2: is not well-formed XML"},
		{"other root", "<bank/>", "expected element type <quiz>"},
		{"no questions", "<quiz><question type=\"category\"/></quiz>", "holds no questions"},
		{"other charset", `<?xml version="1.0" encoding="ISO-8859-1"?><quiz/>`, "only UTF-8"},
		{"external entity is not fetched", `<?xml version="1.0"?><!DOCTYPE quiz [<!ENTITY x SYSTEM "file:///etc/passwd">]><quiz>&x;</quiz>`, "invalid character entity &x;"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseMoodleXML([]byte(tc.data))
			wantMalformed(t, err, tc.reason)
		})
	}
	t.Run("an image it does not embed", func(t *testing.T) {
		items, err := ParseMoodleXML([]byte(`<quiz><question type="multichoice"><questiontext><text>&lt;img src="@@PLUGINFILE@@/x.png"&gt;Q</text></questiontext>
			<answer fraction="100"><text>a</text></answer><answer fraction="0"><text>b</text></answer></question></quiz>`))
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, items, []want{{Unsupported: `shows the image "x.png" but does not embed it`}})
	})
}

func TestParseQTIItems(t *testing.T) {
	t.Parallel()
	t.Run("2.1 with namespaces and a prompt", func(t *testing.T) {
		items, err := ParseQTIItem(fixture(t, "item21.xml"))
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, items, []want{{Title: "Unattended Luggage", Text: "Look at the text in the picture.\n\nWhat does it say?", Kind: domain.KindSingle,
			Choices: []string{"You must stay with your luggage at all times.", "Do not let someone else look after your luggage.", "Remember your luggage when you leave."},
			Keys:    []string{"ChoiceA", "ChoiceB", "ChoiceC"}, Correct: []string{"ChoiceA"}, Points: 1}})
	})
	t.Run("3.0 prefixed, multiple with a mapping", func(t *testing.T) {
		items, err := ParseQTIItem(fixture(t, "item30.xml"))
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, items, []want{{Title: "Rivers", Text: "Which of these are rivers & long?", Kind: domain.KindMultiple,
			Choices: []string{"The Nile", "The Amazon", "The Alps"}, Keys: []string{"nile", "amazon", "alps"},
			Correct: []string{"nile", "amazon"}, Points: 4, Negative: 1}})
	})
	t.Run("other interactions are unsupported", func(t *testing.T) {
		items, err := ParseQTIItem([]byte(`<assessmentItem xmlns="http://www.imsglobal.org/xsd/imsqti_v2p1" identifier="t" title="Typed">
			<responseDeclaration identifier="RESPONSE" cardinality="single" baseType="string"/>
			<itemBody><p>Capital of France? <textEntryInteraction responseIdentifier="RESPONSE"/></p></itemBody></assessmentItem>`))
		if err != nil {
			t.Fatal(err)
		}
		checkItems(t, items, []want{{Title: "Typed", Unsupported: "is a textentryinteraction question"}})
	})
}

func TestParseQTIMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, data, reason string }{
		{"not xml", "<assessmentItem><itemBody>", "is not well-formed XML"},
		{"not an item", "<assessmentTest/>", "the root element is <assessmenttest>"},
		{"no body", "<assessmentItem title=\"x\"/>", `item "x" has no item body`},
		{"undeclared response", `<assessmentItem title="x"><itemBody><choiceInteraction responseIdentifier="R"><simpleChoice identifier="a">A</simpleChoice></choiceInteraction></itemBody></assessmentItem>`, `declares no response "R"`},
		{"correct response not a choice", `<assessmentItem title="x"><responseDeclaration identifier="R" cardinality="single"><correctResponse><value>z</value></correctResponse></responseDeclaration>
			<itemBody><choiceInteraction responseIdentifier="R"><simpleChoice identifier="a">A</simpleChoice><simpleChoice identifier="b">B</simpleChoice></choiceInteraction></itemBody></assessmentItem>`, `correct response "z", which is not a choice`},
		{"deep nesting", strings.Repeat("<a>", 300), "nests elements more than 256 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQTIItem([]byte(tc.data))
			wantMalformed(t, err, tc.reason)
		})
	}
}

const manifest21 = `<?xml version="1.0" encoding="UTF-8"?>
<manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="m">
  <resources>
    <resource identifier="t" type="imsqti_test_xmlv2p1" href="test.xml"/>
    <resource identifier="i2" type="imsqti_item_xmlv2p1" href="items/second.xml"><file href="items/second.xml"/></resource>
    <resource identifier="i1" type="imsqti_item_xmlv2p1" href="items/first.xml"/>
  </resources>
</manifest>`

func TestParseQTIPackage(t *testing.T) {
	t.Parallel()
	img := `<p><img src="img/pixel.png" alt=""/></p>`
	data := makeZip(t, map[string]string{
		"imsmanifest.xml":     manifest21,
		"items/second.xml":    strings.Replace(string(fixture(t, "item21.xml")), "<p>Look", img+"<p>Look", 1),
		"items/first.xml":     string(fixture(t, "item30.xml")),
		"items/img/pixel.png": string(onePixelPNG),
	})
	items, err := ParseQTIPackage(openZip(t, data))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[0].Title != "Unattended Luggage" || items[1].Title != "Rivers" {
		t.Fatalf("items not in manifest order: %+v", items)
	}
	if string(items[0].Image) != string(onePixelPNG) || items[1].Image != nil {
		t.Fatalf("images: %d, %d bytes", len(items[0].Image), len(items[1].Image))
	}

	for _, tc := range []struct {
		name   string
		files  map[string]string
		reason string
	}{
		{"no manifest", map[string]string{"item.xml": "<assessmentItem/>"}, "no readable imsmanifest.xml"},
		{"no items", map[string]string{"imsmanifest.xml": "<manifest><resources/></manifest>"}, "lists no QTI item resources"},
		{"missing item", map[string]string{"imsmanifest.xml": manifest21}, "the manifest lists items/second.xml, which the package does not hold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseQTIPackage(openZip(t, makeZip(t, tc.files)))
			wantMalformed(t, err, tc.reason)
		})
	}
	t.Run("an image outside the package", func(t *testing.T) {
		files := map[string]string{"imsmanifest.xml": manifest21, "items/first.xml": string(fixture(t, "item30.xml")),
			"items/second.xml": strings.Replace(string(fixture(t, "item21.xml")), "<p>Look", `<img src="../../etc/passwd"/><p>Look`, 1)}
		items, err := ParseQTIPackage(openZip(t, makeZip(t, files)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(items[0].Unsupported, "outside the package") {
			t.Fatalf("unsupported %q", items[0].Unsupported)
		}
	})
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
		want Format
	}{
		{"gift", fixture(t, "awkward.gift"), GIFT},
		{"aiken", fixture(t, "bank.aiken"), Aiken},
		{"moodle xml", fixture(t, "bank.xml"), MoodleXML},
		{"qti 2.1", fixture(t, "item21.xml"), QTI},
		{"qti 3.0 prefixed", fixture(t, "item30.xml"), QTI},
		{"zip", makeZip(t, map[string]string{"imsmanifest.xml": manifest21}), QTI},
		{"bom and spaces before xml", append([]byte("\xef\xbb\xbf \n"), fixture(t, "bank.xml")...), MoodleXML},
	} {
		if got, ok := Detect(tc.data); !ok || got != tc.want {
			t.Errorf("%s: detected %q %v, want %q", tc.name, got, ok, tc.want)
		}
	}
	for _, data := range []string{"", "just words", "<html><body/></html>", "\x00\x01"} {
		if f, ok := Detect([]byte(data)); ok {
			t.Errorf("%q detected as %s", data, f)
		}
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	got := cleanText("  a\u202eb\x07c\r\nd\u0085e\t \r\n\n")
	if got != "abc\nde" {
		t.Fatalf("%q", got)
	}
}
