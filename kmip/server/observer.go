package server

// Observer learns of connection events (metrics). Its methods run on the
// connection's goroutine and must be fast; Config.Observer nil means none.
type Observer interface {
	// ConnOpened and ConnClosed bracket every accepted connection that was
	// not refused at the connection limit.
	ConnOpened()
	ConnClosed()
	// HandshakeFailed counts TLS handshakes that failed or presented no
	// verified client certificate.
	HandshakeFailed()
}

type noObserver struct{}

func (noObserver) ConnOpened()      {}
func (noObserver) ConnClosed()      {}
func (noObserver) HandshakeFailed() {}
