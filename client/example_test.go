package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/dbactor/dbactor/client"
	"github.com/dbactor/dbactor/registry"
)

// An actor that connects through the registry as it starts, then
// disconnects: its Receive never blocks.
func ExampleAsync() {
	sys := registry.NewActorSystem(nil)
	defer sys.Shutdown()
	reg, err := registry.New(sys, registry.Config{Database: "sqlite:///:memory:"})
	if err != nil {
		panic(err)
	}
	defer reg.Close(context.Background())

	done := make(chan struct{})
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*actor.Started); !ok {
			return
		}
		client.Async{Registry: reg.PID(), Timeout: 10 * time.Second}.Connect(c, func(err error) {
			fmt.Println("connected:", err)
			client.Async{Registry: reg.PID(), Timeout: 10 * time.Second}.Disconnect(c, func(err error) {
				fmt.Println("disconnected:", err)
				close(done)
			})
		})
		fmt.Println("Started returns; the connect is under way")
	}))
	<-done
	_ = sys.Root.StopFuture(pid).Wait()
	// Output:
	// Started returns; the connect is under way
	// connected: <nil>
	// disconnected: <nil>
}
