package registry

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/dbactor/dbactor/internal/dsn"
)

// String describes the configuration with every URL's password replaced
// by "xxxxx", so a Config can be printed or logged as it is.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "registry.Config{Database:%q", dsn.Redact(c.Database))
	if len(c.Extra) > 0 {
		b.WriteString(" Extra:{")
		for i, name := range slices.Sorted(maps.Keys(c.Extra)) {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%q:%q", name, dsn.Redact(c.Extra[name]))
		}
		b.WriteString("}")
	}
	fmt.Fprintf(&b, " Schema:%q Timeout:%s WithContentType:%t Health:%+v Query:%+v Peers:%+v}", c.Schema, c.Timeout, c.WithContentType, c.Health, c.Query, c.Peers)
	return b.String()
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer: the redacted String.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
