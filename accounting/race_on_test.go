//go:build race

package accounting

// raceEnabled scales the load tests down: the race detector slows the SDK's XML decoding
// about eightfold, and the point there is finding races, not measuring speed.
const raceEnabled = true
