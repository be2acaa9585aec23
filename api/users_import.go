package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/gin-gonic/gin"
)

// maxRosterBytes bounds an imported roster file.
const maxRosterBytes = 5 << 20

// rosterBodyLimit bounds the whole roster import request.
const rosterBodyLimit = maxRosterBytes + multipartOverhead

// rosterColumns are the roster's columns, in the order the export writes
// them; email, full_name and role are required in an import.
var rosterColumns = []string{"email", "full_name", "role", "level", "id_number", "subject", "password"}

type generatedPasswordView struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type rosterUserView struct {
	Email    string  `json:"email"`
	FullName string  `json:"full_name"`
	Role     string  `json:"role"`
	LevelID  *string `json:"level_id"`
	IDNumber *string `json:"id_number"`
	Subject  *string `json:"subject"`
}

type rosterImportView struct {
	Created            int                     `json:"created"`
	GeneratedPasswords []generatedPasswordView `json:"generated_passwords"`
	// DryRun: validated only (dry_run=true), nothing created; Users is
	// what would be.
	DryRun bool             `json:"dry_run"`
	Users  []rosterUserView `json:"users"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// importUsers registers the users of a CSV or XLSX roster, all or none
// (commands.ImportRosterHandler); any bad row rejects the file with 400
// validation_failed and details.rows [{row, field, reason}]. dry_run=true
// (query or form field) validates and answers what would be created, for
// the web admin's preview. Generated passwords are in this response only.
func (s *Server) importUsers(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	release, err := s.imports.Acquire()
	if err != nil {
		Abort(c, err)
		return
	}
	defer release()
	data, form, err := readUploadForm(c, maxRosterBytes, "dry_run")
	if err != nil {
		Abort(c, err)
		return
	}
	dryRun := isTrue(firstNonEmpty(form["dry_run"], c.Query("dry_run")))
	res, err := ImportRosterFile(c.Request.Context(), s.cmd, s.reads, s.meta(c), data, dryRun)
	var re *domain.RosterError
	if errors.As(err, &re) {
		Abort(c, NewAPIError(http.StatusBadRequest, "validation_failed", "the roster has invalid rows; nothing was created").
			WithDetails(map[string]any{"fields": map[string]string{"file": fmt.Sprintf("has %d problems", len(re.Rows))}, "rows": re.Rows}))
		return
	}
	if err != nil {
		Abort(c, err)
		return
	}
	view := rosterImportView{Created: len(res.Created), DryRun: dryRun, GeneratedPasswords: []generatedPasswordView{}, Users: []rosterUserView{}}
	for _, g := range res.Generated {
		view.GeneratedPasswords = append(view.GeneratedPasswords, generatedPasswordView{Email: g.Email, Password: g.Password})
	}
	for _, in := range res.Planned {
		view.Users = append(view.Users, rosterUserView{Email: in.Email, FullName: in.FullName, Role: string(in.Role),
			LevelID: optional(in.LevelID), IDNumber: optional(in.IDNumber), Subject: optional(in.Subject)})
	}
	setPosition(c, res.Position)
	// Passwords are in the body: no cache may keep it.
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, view)
}

// resolveLevels replaces a level named in a row by its id (a level is
// named by its id or, case-insensitively, its name); a value naming no
// level is left for the command to report.
func resolveLevels(rows []domain.RosterRow, levels []domain.Level) {
	byKey := map[string]string{}
	for _, l := range levels {
		byKey[strings.ToLower(strings.TrimSpace(l.Name))] = l.ID
	}
	for _, l := range levels {
		byKey[strings.ToLower(l.ID)] = l.ID // an id wins over a name
	}
	for i := range rows {
		if id, ok := byKey[strings.ToLower(strings.TrimSpace(rows[i].Level))]; ok {
			rows[i].Level = id
		}
	}
}

// parseRosterFile reads a roster: an XLSX workbook (by its bytes; the first
// sheet, cell values as stored, so an id_number kept as text keeps its
// leading zeros) or UTF-8 CSV. The first non-blank row is the header
// (column names in any case and order; unknown columns ignored); blank
// rows are skipped; row numbers are those a spreadsheet shows.
func parseRosterFile(data []byte) ([]domain.RosterRow, error) {
	next, closeRows, err := spreadsheetRows(data)
	if err != nil {
		return nil, err
	}
	defer closeRows()
	var cols map[string]int
	var out []domain.RosterRow
	for {
		n, cells, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if blank(cells) {
			continue
		}
		if cols == nil {
			cols = map[string]int{}
			for i, h := range cells {
				name := strings.ToLower(strings.TrimSpace(h))
				if _, dup := cols[name]; !dup && contains(rosterColumns, name) {
					cols[name] = i
				}
			}
			var missing []string
			for _, need := range rosterColumns[:3] {
				if _, ok := cols[need]; !ok {
					missing = append(missing, need)
				}
			}
			if len(missing) > 0 {
				return nil, fileProblem("the header row must name the columns email, full_name and role (missing: " + strings.Join(missing, ", ") + ")")
			}
			continue
		}
		if len(out) == domain.MaxImportRows {
			return nil, fileProblem(fmt.Sprintf("has more than %d rows", domain.MaxImportRows))
		}
		get := func(name string) string {
			i, ok := cols[name]
			if !ok {
				return ""
			}
			return unquoteCell(cell(cells, i))
		}
		out = append(out, domain.RosterRow{Row: n, Email: get("email"), FullName: get("full_name"), Role: get("role"),
			Level: get("level"), IDNumber: get("id_number"), Subject: get("subject"),
			// A password is taken as written: spaces may be part of it.
			Password: rawCell(cells, cols, "password")})
	}
	if cols == nil {
		return nil, fileProblem("is empty: a header row naming email, full_name and role is required")
	}
	return out, nil
}

func rawCell(cells []string, cols map[string]int, name string) string {
	if i, ok := cols[name]; ok && i < len(cells) {
		return cells[i]
	}
	return ""
}
