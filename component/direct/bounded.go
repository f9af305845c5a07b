package direct

// putOldestOut sets m[k] to v. A key new to m goes to the end of order
// (m's keys, oldest first) and, beyond max keys, the oldest are forgotten;
// a key m has keeps its place. The receipt book and the reaction book are
// bounded this way.
func putOldestOut[K comparable, V any](m map[K]V, order *[]K, k K, v V, max int) {
	if _, ok := m[k]; !ok {
		*order = append(*order, k)
	}
	m[k] = v
	for len(*order) > max {
		delete(m, (*order)[0])
		*order = (*order)[1:]
	}
}
