// Package cli is the dbactor command line — migrate up|down|status|create
// and diff — as a library, so that an application can expose the same
// subcommands from its own binary, with its own registry and its own
// registered models (what Edgy's CLI does by discovering the app):
//
//	func main() {
//		app := &cli.App{
//			Name: "myapp",
//			Registry: func(ctx context.Context, cfg cli.Config) (*registry.Registry, error) {
//				reg, err := registry.New(nil, cfg.Registry())
//				if err != nil {
//					return nil, err
//				}
//				_, err = reg.RegisterModel(ctx, User{})
//				return reg, err
//			},
//		}
//		os.Exit(app.Main(context.Background(), os.Args[1:]))
//	}
//
// cmd/dbactor is this package with no models: an App whose registry is the
// one the flags describe.
//
// # Configuration
//
// Every command that touches a database reads, flags first, then the
// environment:
//
//	--database URL       DBACTOR_DATABASE     the main database (required)
//	--extra name=URL     DBACTOR_EXTRA        an extra database; repeat the flag, or
//	                                          separate name=URL pairs by spaces
//	--dir DIR            DBACTOR_MIGRATIONS   the migrations root (default "migrations")
//	--tenant NAME        DBACTOR_TENANTS      only these tenants; repeat, or separate by commas
//
// # Exit codes
//
//	0  success
//	1  a migration failed (every set is still reported)
//	2  usage: unknown command or flag, missing argument
//	3  configuration or environment: a bad URL, an unreachable database, a
//	   migrations directory that does not fit the layout
//	4  --check found work to do: status with pending migrations, diff with changes
package cli
