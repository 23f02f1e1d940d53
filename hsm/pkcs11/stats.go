package pkcs11hsm

import "time"

// PoolStats reports the session pool's size and how many of its sessions
// calls hold right now (metrics). Multi-part operations' own sessions are
// not counted.
func (k *Keystore) PoolStats() (size, inUse int) {
	return k.pool.size, int(k.pool.inUse.Load())
}

// SetCallObserver sets (or, with nil, removes) the hook that receives each
// pooled call's name and how long it held its session; see
// Config.ObserveCall. It may be called while calls run.
func (k *Keystore) SetCallObserver(f func(op string, d time.Duration)) {
	for _, p := range []*sessionPool{k.pool, k.sealPool} {
		if f == nil {
			p.observe.Store(nil)
		} else {
			p.observe.Store(&f)
		}
	}
}
