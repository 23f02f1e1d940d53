package audit

// Queued is how many records wait for the writer (tests only).
func (t *Trail) Queued() int { return len(t.w.queue) }
