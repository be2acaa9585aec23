// Package archrule holds no code: its test enforces the dependency rule of
// ARCHITECTURE.md ("Which way dependencies point") over the non-test
// packages of the module, so an import that breaks the rule fails CI instead
// of waiting for a reviewer to notice.
package archrule
