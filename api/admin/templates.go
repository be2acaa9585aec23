package admin

import (
	"fmt"
	"html/template"
	"io/fs"
	"strconv"
	"time"
)

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"time": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return "—"
	},
	"num": func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
	"index4": func(v *float64) string {
		if v == nil {
			return "—"
		}
		return strconv.FormatFloat(*v, 'f', 2, 64)
	},
	"minutes": func(s int) string {
		if s <= 0 {
			return "no limit"
		}
		return fmt.Sprintf("%d min", s/60)
	},
	"inc": func(i int) int { return i + 1 },
	// minutesOf shows extra seconds as whole minutes (the monitor's form).
	"minutesOf": func(s int) int { return s / 60 },
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := n[len("templates/"):]
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("admin: template %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}
