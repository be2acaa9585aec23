package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"strings"

	"github.com/examhall/exam/domain"
	"github.com/examhall/exam/projections"
	"github.com/gin-gonic/gin"
	"github.com/xuri/excelize/v2"
)

// exportUsers downloads every user (admins only) in the roster's columns,
// so the file imports back (POST /users/import) as it is: level by name
// (by id when two levels share the name), id_number as text (leading
// zeros kept), password left empty. Text cells that would start a formula
// are quoted (neutralizeCell), which the import undoes.
func (s *Server) exportUsers(c *gin.Context) {
	if !requireRole(c, domain.RoleAdmin) {
		return
	}
	if err := WriteUsersExport(c, s.reads, strings.ToLower(c.DefaultQuery("format", "csv"))); err != nil {
		Abort(c, err)
	}
}

// UserDirectory is what a users export reads.
type UserDirectory interface {
	LevelSource
	ListUsers(ctx context.Context, f projections.UserFilter) ([]*domain.User, bool, error)
}

// WriteUsersExport writes every user as the roster file ("csv" or "xlsx");
// an error is written nothing for.
func WriteUsersExport(c *gin.Context, reads UserDirectory, format string) error {
	if format != "csv" && format != "xlsx" {
		return validationFailed(map[string]string{"format": `must be "csv" or "xlsx"`})
	}
	ctx := c.Request.Context()
	levels, err := reads.Levels(ctx)
	if err != nil {
		return err
	}
	levelName := map[string]string{}
	count := map[string]int{}
	for _, l := range levels {
		count[strings.ToLower(l.Name)]++
	}
	for _, l := range levels {
		levelName[l.ID] = l.Name
		if count[strings.ToLower(l.Name)] > 1 {
			levelName[l.ID] = l.ID
		}
	}
	var records [][]string
	after := ""
	for {
		users, more, err := reads.ListUsers(ctx, projections.UserFilter{AfterID: after, Limit: 500})
		if err != nil {
			return err
		}
		for _, u := range users {
			level := ""
			if u.LevelID != "" {
				level = levelName[u.LevelID]
				if level == "" {
					level = u.LevelID
				}
			}
			records = append(records, []string{u.Email, u.FullName, string(u.Role), level, u.IDNumber, u.Subject, ""})
		}
		if !more || len(users) == 0 {
			break
		}
		after = users[len(users)-1].Email
	}
	if format == "xlsx" {
		writeRosterXLSX(c, records)
		return nil
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="users.csv"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	w := csv.NewWriter(c.Writer)
	_ = w.Write(rosterColumns)
	for _, rec := range records {
		for i := range rec {
			rec[i] = neutralizeCell(rec[i])
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return nil
}

func writeRosterXLSX(c *gin.Context, records [][]string) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := "Users"
	_ = f.SetSheetName("Sheet1", sheet)
	for r, rec := range append([][]string{rosterColumns}, records...) {
		for i, v := range rec {
			cell, _ := excelize.CoordinatesToCellName(i+1, r+1)
			// SetCellStr stores text: never a formula, never a number that
			// would lose an id_number's leading zeros.
			_ = f.SetCellStr(sheet, cell, v)
		}
	}
	c.Header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	c.Header("Content-Disposition", `attachment; filename="users.xlsx"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	if err := f.Write(c.Writer); err != nil {
		_ = c.Error(err)
	}
}
