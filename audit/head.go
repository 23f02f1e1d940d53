package audit

// Head returns the sequence number and chain value of the last record the
// trail stored (0 and nil for an empty chain): what the node's audit
// anchor (anchor.go) records. It waits for a record being written.
func (t *Trail) Head() (seq int64, chain []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq, append([]byte(nil), t.chain...)
}
