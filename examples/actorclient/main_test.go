package main

import (
	"bytes"
	"testing"

	"github.com/dbactor/dbactor/internal/testdb"
)

func TestMain(m *testing.M) { testdb.VerifyNoLeaks(m) }

// The example's output is deterministic: the pings land while the connect
// waits, and the steps follow in order.
func TestActorClient(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, ""); err != nil {
		t.Fatal(err)
	}
	const want = `1. client started; connecting through the registry
2. ping 1 answered while connecting
   ping 2 answered while connecting
   ping 3 answered while connecting
3. the server is ready; the client carries on:
   connected
   schema "actorclient_demo" created
   disconnected
4. ref count 0, connected false; schema "actorclient_demo" exists: true
`
	if got := out.String(); got != want {
		t.Fatalf("output:\n%s\nwant:\n%s", got, want)
	}
}
