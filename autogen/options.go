package autogen

// Option configures Diff.
type Option func(*options)

type options struct {
	databases    []string
	databasesSet bool
	tenant       string
	dropUnknown  bool
	ignore       []string
}

// Databases limits Diff to the databases named ("" is the main database).
// Default: the main database and every extra one.
func Databases(names ...string) Option {
	return func(o *options) {
		o.databases = append(o.databases, names...)
		o.databasesSet = true
	}
}

// Tenant compares the tenant set: the models without a schema of their own,
// against the tables in schema (one tenant's, standing for all of them).
// The changes have Tenant set, are unqualified, and Write puts them in
// tenants/. Models bound to a schema of their own are left out.
func Tenant(schema string) Option {
	return func(o *options) { o.tenant = schema }
}

// DropUnknown also proposes dropping the tables, in the schemas compared,
// that no registered model names (except goose's version table and those
// named by IgnoreTables). Default: such tables are left alone.
func DropUnknown() Option {
	return func(o *options) { o.dropUnknown = true }
}

// IgnoreTables names tables that DropUnknown never drops (goose's
// "goose_db_version" is always ignored).
func IgnoreTables(tables ...string) Option {
	return func(o *options) { o.ignore = append(o.ignore, tables...) }
}
