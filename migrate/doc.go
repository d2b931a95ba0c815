// Package migrate applies versioned migrations to every database of a registry.
package migrate

import _ "github.com/pressly/goose/v3"
