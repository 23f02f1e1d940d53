package conformance

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/strongroom/strongroom/kmip/ttlv"
)

// RoundTripper sends one request message and returns the response message;
// *client.Conn is one.
type RoundTripper interface {
	RoundTrip(ctx context.Context, req ttlv.Item) (ttlv.Item, error)
}

// Dialer opens a connection to the server under test. If the connection
// is also an io.Closer, the runner closes it at the end of the file.
type Dialer func(ctx context.Context) (RoundTripper, error)

// Runner replays test case files against a server.
type Runner struct {
	// Dial opens one connection per file, so that nothing a case does on
	// its connection leaks into the next.
	Dial Dialer
	// StepTimeout bounds one exchange; zero means one minute.
	StepTimeout time.Duration
	// Now is the clock for $NOW in requests; nil means time.Now.
	Now func() time.Time
	// KeepOnFailure leaves on the server what a failed file made; by
	// default the runner revokes and destroys it (see cleanup).
	KeepOnFailure bool

	// mu guards the objects known across files: a case may use what an
	// earlier one left on the server (TL-M-3 locates and gets the key that
	// TL-M-2 created), so which objects the server generated is kept for the
	// whole run.
	mu        sync.Mutex
	generated map[string]bool
	keys      map[string]keyInfo
}

// Result is the outcome of one file. Passed is false when the file did not
// load, a request could not be sent, or a response differed (FirstDiff).
type Result struct {
	File      string
	Passed    bool
	FirstDiff *Diff
	Err       error
	// Steps is how many steps matched before the end or the first failure.
	Steps int
}

// Reason is the failure in one line: the first difference or the error.
func (r Result) Reason() string {
	switch {
	case r.FirstDiff != nil:
		return r.FirstDiff.String()
	case r.Err != nil:
		return r.Err.Error()
	}
	return ""
}

// RunFile loads and runs one test case file.
func (r *Runner) RunFile(ctx context.Context, path string) Result {
	c, err := LoadFile(path)
	if err != nil {
		return Result{File: path, Err: err}
	}
	res := r.Run(ctx, c)
	res.File = path
	return res
}

// Run runs a loaded test case over a new connection: each request is sent
// as written (so in the file's protocol version) with its placeholders
// substituted, and each response compared with the expected one.
func (r *Runner) Run(ctx context.Context, c *Case) Result {
	conn, err := r.Dial(ctx)
	if err != nil {
		return Result{Err: fmt.Errorf("conformance: connect: %w", err)}
	}
	if cl, ok := conn.(io.Closer); ok {
		defer cl.Close()
	}
	st := newState(r.Now)
	r.mu.Lock()
	for k, v := range r.generated {
		st.generated[k] = v
	}
	for k, v := range r.keys {
		st.keys[k] = v
	}
	r.mu.Unlock()
	defer r.keep(st)
	res := r.steps(ctx, conn, c, st)
	if !res.Passed && !r.KeepOnFailure {
		r.cleanup(ctx, c, st)
	}
	return res
}

// steps runs the steps of a case in order until the first failure.
func (r *Runner) steps(ctx context.Context, conn RoundTripper, c *Case, st *state) Result {
	timeout := r.StepTimeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	for _, step := range c.Steps {
		req, err := st.substitute(step.Request, 0)
		if err != nil {
			return Result{Steps: step.Index, Err: fmt.Errorf("conformance: request %d: %w", step.Index, err)}
		}
		sctx, cancel := context.WithTimeout(ctx, timeout)
		got, err := conn.RoundTrip(sctx, req)
		cancel()
		if err != nil {
			return Result{Steps: step.Index, Err: fmt.Errorf("conformance: request %d: %w", step.Index, err)}
		}
		// Learn first: a batch may Create a key and Get it at once.
		st.learn(req, got)
		if d := st.compareResponse(step.Index, req, step.Expected, got); d != nil {
			return Result{Steps: step.Index, FirstDiff: d}
		}
	}
	return Result{Passed: true, Steps: len(c.Steps)}
}

// keep adds what a file learnt about objects to the run's knowledge.
func (r *Runner) keep(st *state) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.generated == nil {
		r.generated, r.keys = map[string]bool{}, map[string]keyInfo{}
	}
	for k, v := range st.generated {
		r.generated[k] = v
	}
	for k, v := range st.keys {
		r.keys[k] = v
	}
}
