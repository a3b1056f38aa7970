package sqlite

import "fmt"

// InUseError is Lock's answer when another process holds the data
// directory.
type InUseError struct {
	Dir string // absolute data directory
	PID int    // the holder's process ID; 0 if it could not be read
}

func (e *InUseError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("data directory %s is in use by another rotor serve process (pid %d)", e.Dir, e.PID)
	}
	return fmt.Sprintf("data directory %s is in use by another rotor serve process", e.Dir)
}
