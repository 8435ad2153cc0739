package model

// Held is how many conversations a caller (and its copies) holds answers
// for, not yet settled: a test's view of the ledger's bound.
func Held(k *Caller) int {
	k.led.mu.Lock()
	defer k.led.mu.Unlock()
	return len(k.led.convs)
}
