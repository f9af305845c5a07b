package email

// SpoolFiles is how many attachment files n holds open, for the tests of
// package email_test.
func SpoolFiles(n *Network) int64 { return n.spool.Live() }
