package domain

import (
	"fmt"
	"slices"
	"strings"
)

// RosterRow is one data row of a roster file (POST /users/import), as
// written: Level is a level's id as the caller resolved it (or what the
// file said when it named no level the caller knows), Password "" asks for
// a generated one.
type RosterRow struct {
	Row                          int
	Email, FullName, Role, Level string
	IDNumber, Subject, Password  string
}

// RosterProblem is one problem of a roster row, by the column it is in.
type RosterProblem struct {
	Row    int    `json:"row"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// RosterError rejects a whole roster and lists every problem of every row.
// It matches ErrValidation with errors.Is.
type RosterError struct {
	Rows []RosterProblem
}

func (e *RosterError) Error() string {
	if len(e.Rows) == 0 {
		return "validation failed: invalid roster"
	}
	return fmt.Sprintf("validation failed: %d roster problems (first: row %d: %s %s)", len(e.Rows), e.Rows[0].Row, e.Rows[0].Field, e.Rows[0].Reason)
}

// Is makes errors.Is(err, ErrValidation) true.
func (e *RosterError) Is(target error) bool { return target == ErrValidation }

// placeholderPassword stands in for a password to be generated while the
// rest of a row is validated.
const placeholderPassword = "generated-later"

// rosterField names the file's column of a registration field.
var rosterField = map[string]string{"level_id": "level"}

// PlanRoster validates a roster as a whole: each row as a registration
// (email, full_name, role, level for students only, id_number, subject,
// password of at least 8 characters when given), no email twice in the
// file, no email already taken (taken, by normalised address), every level
// known (levels, by id). Any problem rejects the whole file: the
// *RosterError lists them all, sorted by row and column. Otherwise it
// returns the registrations, in file order; Password "" is to be
// generated.
func PlanRoster(rows []RosterRow, levels map[string]bool, taken map[string]bool) ([]RegisterInput, error) {
	if len(rows) == 0 {
		return nil, NewValidationError(map[string]string{"file": "has no data rows"})
	}
	if len(rows) > MaxImportRows {
		return nil, NewValidationError(map[string]string{"file": fmt.Sprintf("has more than %d rows", MaxImportRows)})
	}
	var problems []RosterProblem
	firstRow := map[string]int{}
	out := make([]RegisterInput, 0, len(rows))
	for _, r := range rows {
		in := RegisterInput{Email: NormalizeEmail(r.Email), Password: r.Password, FullName: strings.TrimSpace(r.FullName),
			Role: Role(strings.ToLower(strings.TrimSpace(r.Role))), IDNumber: strings.TrimSpace(r.IDNumber), Subject: strings.TrimSpace(r.Subject)}
		if in.Role == RoleStudent {
			in.LevelID = strings.TrimSpace(r.Level)
		}
		check := in
		if check.Password == "" {
			check.Password = placeholderPassword
		}
		fields := map[string]string{}
		var ve *ValidationError
		if err := ValidateRegistration(check); err != nil {
			ve = err.(*ValidationError)
			for k, v := range ve.Fields {
				fields[k] = v
			}
		}
		if in.Role != RoleStudent && strings.TrimSpace(r.Level) != "" && in.Role.Valid() {
			fields["level_id"] = "only students have a level"
		}
		if in.Role == RoleStudent && in.LevelID != "" && !levels[in.LevelID] {
			fields["level_id"] = "no such level (give its name or id)"
		}
		if in.Role == RoleStudent && in.Subject != "" {
			fields["subject"] = "only doctors have a subject"
		}
		if _, bad := fields["email"]; !bad && in.Email != "" {
			if first, dup := firstRow[in.Email]; dup {
				fields["email"] = fmt.Sprintf("appears twice in the file (first in row %d)", first)
			} else {
				firstRow[in.Email] = r.Row
				if taken[in.Email] {
					fields["email"] = "is already taken"
				}
			}
		}
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			name := k
			if n, ok := rosterField[k]; ok {
				name = n
			}
			problems = append(problems, RosterProblem{Row: r.Row, Field: name, Reason: fields[k]})
		}
		out = append(out, in)
	}
	if len(problems) > 0 {
		return nil, &RosterError{Rows: problems}
	}
	return out, nil
}

// ReleaseEmail decides giving up a reservation held for userID.
func ReleaseEmail(email, userID string) Event {
	return Event{Type: TypeEmailReleased, Tags: []string{UserTag(userID)}, Data: &EmailReleased{Email: NormalizeEmail(email), UserID: userID}}
}
