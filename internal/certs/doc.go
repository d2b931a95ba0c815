// Package certs makes a throwaway certificate authority and node
// certificates for mutual TLS between nodes: for tests, examples and
// local development, never for production (keys live in memory and in the
// directory you write them to, unprotected).
package certs
