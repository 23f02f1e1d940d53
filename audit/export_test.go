package audit

// Queued is how many records wait for the writer (tests only).
func (t *Trail) Queued() int { return len(t.w.queue) }

// SetHead makes (seq, chain) the trail's head, as if it had stored that
// record (tests only: the Anchorer's refusal of a linked head, which the
// writer never leaves).
func (t *Trail) SetHead(seq int64, chain []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seq, t.chain = seq, chain
}
