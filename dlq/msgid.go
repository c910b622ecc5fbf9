package dlq

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// maxMessageIDLength is the longest message id Service Bus accepts.
const maxMessageIDLength = 128

// ReplayMessageID derives the message id of the copy made when the
// dead-lettered message with the given original message id and dead-letter
// sequence number is replayed for the replayCount-th time (1 for the first
// replay).
//
// The id is deterministic, so a replay interrupted after sending a copy and
// run again derives the same id and recognises the copy (and a queue with
// duplicate detection drops a second one); it differs from the original id
// and from every earlier replay of the same message, so duplicate detection
// never swallows a legitimate replay. A previous "-replayN-seqM" suffix is
// replaced rather than extended. When the result would exceed 128
// characters (or equal the original id), a hash of the inputs is used
// instead.
func ReplayMessageID(originalID string, sequenceNumber int64, replayCount int) string {
	base := stripReplaySuffix(originalID)
	id := base + "-replay" + strconv.Itoa(replayCount) + "-seq" + strconv.FormatInt(sequenceNumber, 10)
	if len(id) <= maxMessageIDLength && id != originalID {
		return id
	}
	h := sha256.New()
	h.Write([]byte(originalID))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(sequenceNumber, 10)))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(replayCount)))
	return "replay" + strconv.Itoa(replayCount) + "-" + hex.EncodeToString(h.Sum(nil)[:20])
}

// stripReplaySuffix removes a trailing "-replay<digits>-seq<digits>".
func stripReplaySuffix(id string) string {
	i := strings.LastIndex(id, "-replay")
	if i < 0 {
		return id
	}
	rest := id[i+len("-replay"):]
	count, seq, ok := strings.Cut(rest, "-seq")
	if !ok || !allDigits(count) || !allDigits(seq) {
		return id
	}
	return id[:i]
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
