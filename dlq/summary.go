package dlq

import (
	"cmp"
	"slices"
)

// Summary counts entries by dead-letter reason.
type Summary struct {
	Total   int             `json:"total"`
	Reasons []ReasonSummary `json:"reasons"`
}

// ReasonSummary counts the entries with one reason. For GraphRejected and
// RetriesExhausted it also counts them by Graph error code.
type ReasonSummary struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
	// GraphErrorCodes is set for GraphRejected and RetriesExhausted only;
	// messages without a code count under "".
	GraphErrorCodes []CodeCount `json:"graphErrorCodes,omitempty"`
}

// CodeCount is how many entries carry one Graph error code.
type CodeCount struct {
	Code  string `json:"code"`
	Count int    `json:"count"`
}

// Summarize groups entries by reason, largest group first (ties by name).
func Summarize(entries []Entry) Summary {
	byReason := map[string]*ReasonSummary{}
	codes := map[string]map[string]int{}
	for _, e := range entries {
		r := byReason[e.Reason]
		if r == nil {
			r = &ReasonSummary{Reason: e.Reason}
			byReason[e.Reason] = r
		}
		r.Count++
		if e.Reason == ReasonGraphRejected || e.Reason == ReasonRetriesExhausted {
			if codes[e.Reason] == nil {
				codes[e.Reason] = map[string]int{}
			}
			codes[e.Reason][e.GraphErrorCode]++
		}
	}
	s := Summary{Total: len(entries), Reasons: []ReasonSummary{}}
	for reason, r := range byReason {
		for code, n := range codes[reason] {
			r.GraphErrorCodes = append(r.GraphErrorCodes, CodeCount{Code: code, Count: n})
		}
		slices.SortFunc(r.GraphErrorCodes, func(a, b CodeCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code))
		})
		s.Reasons = append(s.Reasons, *r)
	}
	slices.SortFunc(s.Reasons, func(a, b ReasonSummary) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Reason, b.Reason))
	})
	return s
}
