package userloop

func (g *Group) closedForTest() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}
