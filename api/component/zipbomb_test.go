package component_test

import (
	"archive/zip"
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// xlsxBomb is a workbook whose one sheet unpacks to sheetBytes of
// repetitive XML: deflate turns 60 MiB of it into a file of ~60 KB.
func xlsxBomb(t *testing.T, sheetBytes int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name, content string) {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	add("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>`)
	add("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	add("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	head := `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
	row := `<row><c t="inlineStr"><is><t>x</t></is></c></row>`
	_, _ = w.Write([]byte(head))
	chunk := []byte(strings.Repeat(row, 64<<10/len(row)))
	for n := len(head); n < sheetBytes; n += len(chunk) {
		if _, err := w.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = w.Write([]byte(`</sheetData></worksheet>`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A 60 KB workbook that unpacks to 60 MiB is 413, records nothing, and
// costs the request a bounded amount of memory (it used to hold ~280 MiB):
// the bytes allocated by the whole process while it is served are
// measured, and bounded. Not parallel, so no other test allocates meanwhile.
func TestResultsImportZipBombIsRefusedCheaply(t *testing.T) {
	e := start(t)
	w := e.world()
	id := e.publishedExam(w.doctor, w.levelA, nil).ID
	e.answer(id, "q1", w.studentA, "b").want(t, http.StatusOK)
	e.closeAndGrade(id, w.doctor, 1)

	bomb := xlsxBomb(t, 60<<20)
	if len(bomb) > 256<<10 {
		t.Fatalf("the bomb is %d bytes; want a small file", len(bomb))
	}
	head := e.head()
	// Warm up the route (first-use allocations), with a harmless file.
	e.importFile(id, w.doctor, "r.csv", []byte("email,score\n")).want(t, http.StatusOK)
	head = e.head()

	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := e.importFile(id, w.doctor, "bomb.xlsx", bomb)
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("a %d-byte workbook unpacking to 60 MiB: %d, %d KiB allocated by the process while served", len(bomb), r.status, allocated>>10)
	r.wantError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
	// The upload itself (a copy for the handler, the multipart reader, the
	// test client's request) is well under 4 MiB; the 60 MiB sheet must
	// never be inflated.
	if allocated > 8<<20 {
		t.Fatalf("serving the bomb allocated %d MiB; want under 8 MiB", allocated>>20)
	}
	if e.head() != head {
		t.Fatal("the refused import appended events")
	}

	// Just under the limit in all, but a style part of 3 MiB that excelize
	// would read whole into memory: refused too.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fw, _ := zw.Create("xl/styles.xml")
	_, _ = fw.Write(bytes.Repeat([]byte("<x/>"), 3<<20/4))
	_ = zw.Close()
	e.importFile(id, w.doctor, "styles.xlsx", buf.Bytes()).wantError(t, http.StatusRequestEntityTooLarge, "payload_too_large")
}
