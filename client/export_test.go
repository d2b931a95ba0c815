package client

// MaxRequest exposes maxRequest to the tests.
const MaxRequest = maxRequest
