// Package catalog is the registry's book of models and model callbacks, with
// Edgy's exact rules (spec §1.11 K1–K5, §1.12) as plain data structures: which
// model a name resolves to, what a name collision does, and which callbacks a
// registration fires in which order. It sends nothing and locks nothing: the
// registry actor owns one Catalog and serialises every change through its
// mailbox, then delivers what the Catalog decided.
package catalog
