package dbactorotel_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	dbactorotel "github.com/dbactor/dbactor/otel"
	"github.com/dbactor/dbactor/registry"
)

// Every statement inside a traced request gets a span with its SQL text
// (never its argument values) and the name of the registry database.
func ExampleWith() {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(ctx)

	reg, err := registry.New(nil, registry.Config{Database: "sqlite:///:memory:"},
		dbactorotel.With(dbactorotel.WithTracerProvider(tp)))
	if err != nil {
		panic(err)
	}
	defer reg.Close(ctx)
	if err := reg.Connect(ctx); err != nil {
		panic(err)
	}

	ctx, request := tp.Tracer("app").Start(ctx, "GET /answer")
	var answer int
	_ = reg.Database().DB().QueryRowContext(ctx, "SELECT ? * 7", 6).Scan(&answer)
	request.End()

	for _, s := range spans.GetSpans() {
		fmt.Printf("%s:", s.Name)
		for _, kv := range s.Attributes {
			fmt.Printf(" %s=%q", kv.Key, kv.Value.String())
		}
		fmt.Println()
	}
	// Output:
	// SELECT: db.system.name="sqlite" db.dbactor.database="" db.query.text="SELECT ? * 7" db.operation.name="SELECT"
	// GET /answer:
}
