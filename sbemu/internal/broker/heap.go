package broker

import "container/heap"

// availHeap orders the available (active, unlocked) messages of a queue by
// sequence number. Each entry remembers its position in availIdx (-1 when out).
type availHeap []*entry

func (h availHeap) Len() int           { return len(h) }
func (h availHeap) Less(i, j int) bool { return h[i].seq < h[j].seq }
func (h availHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].availIdx = i
	h[j].availIdx = j
}

func (h *availHeap) Push(x any) {
	e := x.(*entry)
	e.availIdx = len(*h)
	*h = append(*h, e)
}

func (h *availHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	e.availIdx = -1
	*h = old[:n]
	return e
}

// dueHeap orders the messages of a queue that will fall due (lock expiry,
// scheduled time, expiry by time to live) by that deadline, then sequence
// number. Each entry is in it at most once, at position dueIdx (-1 when out).
type dueHeap []*entry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if h[i].due.Equal(h[j].due) {
		return h[i].seq < h[j].seq
	}
	return h[i].due.Before(h[j].due)
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].dueIdx = i
	h[j].dueIdx = j
}

func (h *dueHeap) Push(x any) {
	e := x.(*entry)
	e.dueIdx = len(*h)
	*h = append(*h, e)
}

func (h *dueHeap) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	old[n] = nil
	e.dueIdx = -1
	*h = old[:n]
	return e
}

var (
	_ heap.Interface = (*availHeap)(nil)
	_ heap.Interface = (*dueHeap)(nil)
)
