package pkcs11hsm

import (
	"context"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
	"github.com/strongroom/strongroom/hsm"
)

// maxStreams bounds the multi-part operations open at once. Each holds a
// session of its own, outside the pool, so that a client that never
// finishes a stream cannot starve the single-shot operations.
const maxStreams = 64

// stream is a multi-part encryption or decryption (KMIP Init/Final
// Indicators with a Correlation Value). The key object lives in the
// stream's own session and dies with it.
type stream struct {
	k       *Keystore
	sh      pkcs11.SessionHandle
	obj     pkcs11.ObjectHandle
	pl      cipherPlan
	c       hsm.Cipher
	encrypt bool
	once    sync.Once
}

// StartCipher begins a multi-part operation. GCM, CBC (with or without
// padding), CTR and unpadded ECB stream in the token; other modes are
// refused with hsm.ErrUnsupported.
func (k *Keystore) StartCipher(ctx context.Context, key hsm.Key, c hsm.Cipher, encrypt bool) (hsm.CipherStream, error) {
	if key.Kind != hsm.KindAES && key.Kind != hsm.KindDES3 || c.Mode == hsm.ModeECB && c.Pad {
		return nil, fmt.Errorf("%w: multi-part operation with this key and mode", hsm.ErrUnsupported)
	}
	select {
	case k.streams <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", hsm.ErrBusy, ctx.Err())
	default:
		return nil, fmt.Errorf("%w: %d multi-part operations are open", hsm.ErrBusy, maxStreams)
	}
	sh, err := k.openSession()
	if err != nil {
		<-k.streams
		return nil, err
	}
	s := &stream{k: k, sh: sh, c: c, encrypt: encrypt}
	if err := s.start(key); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *stream) start(key hsm.Key) error {
	k := s.k
	if n := ivSize(key.Kind, s.c.Mode); n > 0 && len(s.c.IV) == 0 {
		if !s.encrypt {
			return fmt.Errorf("%w: decryption needs the IV", hsm.ErrInvalidInput)
		}
		iv, err := k.p.GenerateRandom(s.sh, n)
		if err != nil {
			return fmt.Errorf("hsm: generate IV: %w", err)
		}
		s.c.IV = iv
	}
	pl, err := plan(key.Kind, s.c, s.encrypt)
	if err != nil {
		return err
	}
	s.pl = pl
	usage := useDecrypt
	if s.encrypt {
		usage = useEncrypt
	}
	ok, err := k.loadKey(s.sh, k.keys.Load(), key, usage, 0)
	if err != nil {
		return err
	}
	s.obj = ok.h
	if s.encrypt {
		err = k.p.EncryptInit(s.sh, []*pkcs11.Mechanism{pl.mech}, ok.h)
	} else {
		err = k.p.DecryptInit(s.sh, []*pkcs11.Mechanism{pl.mech}, ok.h)
	}
	if err != nil {
		return cryptoErr("start multi-part operation", err)
	}
	return nil
}

func (s *stream) Update(ctx context.Context, data []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []byte
	var err error
	if s.encrypt {
		out, err = s.k.p.EncryptUpdate(s.sh, data)
	} else {
		out, err = s.k.p.DecryptUpdate(s.sh, data)
	}
	if err != nil {
		s.Close()
		return nil, cryptoErr("multi-part update", err)
	}
	return out, nil
}

func (s *stream) Final(ctx context.Context, data, tag []byte) (hsm.Sealed, error) {
	defer s.Close()
	if err := ctx.Err(); err != nil {
		return hsm.Sealed{}, err
	}
	in := data
	if !s.encrypt && s.c.Mode == hsm.ModeGCM {
		if len(tag) != s.c.TagLen {
			return hsm.Sealed{}, fmt.Errorf("%w: GCM tag is %d bytes, not %d", hsm.ErrInvalidInput, len(tag), s.c.TagLen)
		}
		in = append(append([]byte(nil), data...), tag...)
	}
	var head, tail []byte
	var err error
	if s.encrypt {
		if head, err = s.k.p.EncryptUpdate(s.sh, in); err == nil {
			tail, err = s.k.p.EncryptFinal(s.sh)
		}
	} else {
		if head, err = s.k.p.DecryptUpdate(s.sh, in); err == nil {
			tail, err = s.k.p.DecryptFinal(s.sh)
		}
	}
	if err != nil {
		return hsm.Sealed{}, cryptoErr("multi-part final", err)
	}
	if s.encrypt && s.c.Mode == hsm.ModeGCM {
		return hsm.Sealed{Data: head, IV: s.c.IV, Tag: tail}, nil
	}
	return hsm.Sealed{Data: append(head, tail...), IV: s.c.IV}, nil
}

// Close ends the stream: closing its session destroys the key object and
// any unfinished operation.
func (s *stream) Close() {
	s.once.Do(func() {
		s.pl.free()
		s.k.closeSession(s.sh)
		<-s.k.streams
	})
}

// IV is the stream's IV, the caller's or the one the token generated.
func (s *stream) IV() []byte { return s.c.IV }
