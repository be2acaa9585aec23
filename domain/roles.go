package domain

// Role is what a user may do.
type Role string

const (
	RoleAdmin   Role = "admin"
	RoleDoctor  Role = "doctor" // an educator
	RoleStudent Role = "student"
	// RoleSystem is the actor of events the platform causes itself
	// (scheduler, grader).
	RoleSystem Role = "system"
)

// Valid reports whether r is a role a user can have.
func (r Role) Valid() bool {
	return r == RoleAdmin || r == RoleDoctor || r == RoleStudent
}

// Actor is who issues a command. The API derives it from the verified token
// and the user directory, never from the request body.
type Actor struct {
	ID      string
	Role    Role
	LevelID string // students only
}

// SystemActor is the actor of scheduled and grading work.
func SystemActor(name string) Actor { return Actor{ID: "system:" + name, Role: RoleSystem} }

// IsStaff reports whether the actor manages exams (admin or doctor).
func (a Actor) IsStaff() bool { return a.Role == RoleAdmin || a.Role == RoleDoctor }
