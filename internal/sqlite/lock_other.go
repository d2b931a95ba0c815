//go:build !unix

package sqlite

// lockDir is a no-op where flock(2) is missing: DB.mu still serialises
// schema changes within one DB, but two processes (or two DB values on the
// same file) creating or dropping schemas at the same moment are not
// coordinated.
func lockDir(dir string, exclusive bool) (unlock func(), err error) {
	return func() {}, nil
}
