package dbnode

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/node"
	"github.com/dbactor/dbactor/registry"
)

// A registry given a longer timeout than the default gives its peers as
// long, unless the node's MaxDeadline is set; the registry's name is the
// node's default name.
func TestNodeConfig(t *testing.T) {
	long := client.DefaultTimeout + time.Minute
	for _, c := range []struct {
		name        string
		cfg         node.Config
		reg         registry.Config
		maxDeadline time.Duration
	}{
		{"defaults", node.Config{}, registry.Config{}, 0},
		{"shorter timeout", node.Config{}, registry.Config{Timeout: time.Second}, 0},
		{"default timeout", node.Config{}, registry.Config{Timeout: client.DefaultTimeout}, 0},
		{"longer timeout", node.Config{}, registry.Config{Timeout: long}, long},
		{"longer timeout, MaxDeadline set", node.Config{MaxDeadline: time.Second}, registry.Config{Timeout: long}, time.Second},
		{"negative MaxDeadline", node.Config{MaxDeadline: -1}, registry.Config{Timeout: long}, long},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nodeConfig(c.cfg, c.reg)
			require.Equal(t, c.maxDeadline, got.MaxDeadline)
			require.Equal(t, node.DefaultName, got.Name)
		})
	}
	require.Equal(t, "mine", nodeConfig(node.Config{Name: "mine"}, registry.Config{}).Name)
}
