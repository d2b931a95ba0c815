// Package childproc runs the other side of a multi-process example as a
// child process: it waits for the child's ready line, copies the child's
// output (indented, labelled) into the example's, sends it one-line
// commands, and stops it by closing its stdin — killing it if it does not
// exit in time. A child must exit when its stdin closes, so it is never
// orphaned.
package childproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Child is a running child process.
type Child struct {
	// Addr is what the child's ready line gave, up to its first space.
	Addr string

	name, label string
	stopTimeout time.Duration
	once        sync.Once
	stopErr     error
	cmd         *exec.Cmd
	stdin       io.WriteCloser
	lines       chan string // the child's stdout, line by line; closed at its end
	out         io.Writer
}

// Start starts cmd and waits, until ctx ends, for its line beginning with
// ready. name names the child in errors ("the database node"), label
// marks its copied lines ("db node"). On failure the child is stopped.
func Start(ctx context.Context, cmd *exec.Cmd, out io.Writer, name, label, ready string, stopTimeout time.Duration) (*Child, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	c := &Child{name: name, label: label, stopTimeout: stopTimeout, cmd: cmd, stdin: stdin, lines: make(chan string, 16), out: out}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	for c.Addr == "" {
		line, err := c.next(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("waiting for the address of %s: %w", name, err), c.Stop())
		}
		c.relay(line)
		if rest, ok := strings.CutPrefix(line, ready); ok {
			c.Addr, _, _ = strings.Cut(rest, " ")
		}
	}
	return c, nil
}

// next is the child's next line of output.
func (c *Child) next(ctx context.Context) (string, error) {
	select {
	case line, ok := <-c.lines:
		if !ok {
			return "", fmt.Errorf("%s exited", c.name)
		}
		return line, nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (c *Child) relay(line string) { fmt.Fprintf(c.out, "   [%s] %s\n", c.label, line) }

// Command sends the child one command line and copies its one-line answer;
// an answer starting "error: " is an error.
func (c *Child) Command(ctx context.Context, cmd string) error {
	if _, err := io.WriteString(c.stdin, cmd+"\n"); err != nil {
		return fmt.Errorf("telling %s %q: %w", c.name, cmd, err)
	}
	line, err := c.next(ctx)
	if err != nil {
		return fmt.Errorf("%s, answering %q: %w", c.name, cmd, err)
	}
	c.relay(line)
	if strings.HasPrefix(line, "error: ") {
		return fmt.Errorf("%s: %s", c.name, line)
	}
	return nil
}

// Stop closes the child's stdin — it exits — copies its last lines and
// waits for it; one that takes longer than the stop timeout is killed.
// Stop is idempotent.
func (c *Child) Stop() error {
	c.once.Do(func() { c.stopErr = c.wait() })
	return c.stopErr
}

func (c *Child) wait() error {
	c.stdin.Close()
	timer := time.NewTimer(c.stopTimeout)
	defer timer.Stop()
	var killed error
	for done := false; !done; {
		select {
		case line, ok := <-c.lines:
			if !ok {
				done = true
				break
			}
			c.relay(line)
		case <-timer.C:
			killed = fmt.Errorf("%s did not exit within %s: killed", c.name, c.stopTimeout)
			_ = c.cmd.Process.Kill()
			timer.Reset(c.stopTimeout)
		}
	}
	if err := c.cmd.Wait(); err != nil && killed == nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	return killed
}
