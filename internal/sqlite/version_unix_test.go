//go:build unix

package sqlite

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCloseLeavesOtherDescriptors: closing a DB closes the descriptors it
// opened and no other — not fd 0, which a memory database (no directory
// to watch) never opened.
func TestCloseLeavesOtherDescriptors(t *testing.T) {
	var st syscall.Stat_t
	require.NoError(t, syscall.Fstat(0, &st), "fd 0 is open to start with")
	for _, url := range []string{"sqlite://", "sqlite:///" + filepath.Join(t.TempDir(), "app.db")} {
		d := openURL(t, url)
		require.NoError(t, d.Close())
		require.NoError(t, d.Close(), "twice")
		require.NoError(t, syscall.Fstat(0, &st), "%s: fd 0 is still open", url)
	}
}
