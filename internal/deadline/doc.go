// Package deadline turns request deadlines into operation deadlines. Every
// hop (facade → registry → supervisor → database actor) finishes a little
// before the hop that waits for it, so the waiter gets a typed reply rather
// than its own timeout.
package deadline
