package embedded

import "hash/maphash"

// idFilter is an in-memory Bloom filter over every stored event id. The
// committer asks it before looking an id up in pebble: almost every append
// brings new ids, and "certainly not stored" needs no pebble read. Only a
// filter hit (a stored id, i.e. a retry or a duplicate, or a false positive)
// costs the pebble Get.
//
// A Bloom filter has no false negatives as long as every stored id is added
// to it: Open adds every 'E' key before the committer starts, and the
// committer adds each id as it puts the id's key into a batch (a batch that
// then fails to apply fails the store, so an id added but never stored is at
// worst a false positive). Only the committer goroutine uses the filter after
// Open; the seed is fixed at creation, so callers may hash ids concurrently.
//
// The filter is a list of split-block Bloom filters (256-bit blocks of eight
// 32-bit words, one bit set per word, as in Parquet): one cache line per
// lookup per segment. Each segment holds up to its capacity of ids at
// filterBitsPerID bits each (a false positive rate well under 1%); when the
// last one is full a segment of twice the total capacity is added, so the
// filter grows without rehashing and a lookup checks O(log n) segments.
// Open sizes the first segment for twice the ids already stored, and at
// least minFilterIDs, so a reopened store starts with one segment again.
// Memory: 1.5 bytes per id of capacity (1.5 MiB per million).
type idFilter struct {
	seed maphash.Seed
	segs []filterSeg
}

type filterSeg struct {
	blocks   []filterBlock
	n, limit int
}

type filterBlock [8]uint32

const (
	filterBitsPerID = 12
	minFilterIDs    = 1 << 20
)

// Odd constants for the eight words of a block (the Parquet SBBF salts).
var filterSalts = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

// newIDFilter returns an empty filter with room for capacity ids before it
// grows.
func newIDFilter(capacity int) *idFilter {
	f := &idFilter{seed: maphash.MakeSeed()}
	f.addSeg(max(capacity, 1))
	return f
}

func (f *idFilter) addSeg(capacity int) {
	nblocks := (capacity*filterBitsPerID + 255) / 256
	f.segs = append(f.segs, filterSeg{blocks: make([]filterBlock, nblocks), limit: capacity})
}

// hash is the filter's hash of an event id. It is safe for concurrent use.
func (f *idFilter) hash(id string) uint64 { return maphash.String(f.seed, id) }

// hashBytes is hash(string(id)).
func (f *idFilter) hashBytes(id []byte) uint64 { return maphash.Bytes(f.seed, id) }

// add records an id by its hash.
func (f *idFilter) add(h uint64) {
	seg := &f.segs[len(f.segs)-1]
	if seg.n >= seg.limit {
		total := 0
		for i := range f.segs {
			total += f.segs[i].limit
		}
		f.addSeg(2 * total)
		seg = &f.segs[len(f.segs)-1]
	}
	seg.n++
	b := seg.block(h)
	x := uint32(h)
	for i := range b {
		b[i] |= 1 << ((x * filterSalts[i]) >> 27)
	}
}

// mayContain reports whether an id with this hash may have been added;
// false means it certainly was not.
func (f *idFilter) mayContain(h uint64) bool {
	x := uint32(h)
	for s := range f.segs {
		b := f.segs[s].block(h)
		hit := true
		for i := range b {
			if b[i]&(1<<((x*filterSalts[i])>>27)) == 0 {
				hit = false
				break
			}
		}
		if hit {
			return true
		}
	}
	return false
}

// count is how many ids were added.
func (f *idFilter) count() int {
	n := 0
	for i := range f.segs {
		n += f.segs[i].n
	}
	return n
}

// bytes is the filter's memory.
func (f *idFilter) bytes() int {
	n := 0
	for i := range f.segs {
		n += 32 * len(f.segs[i].blocks)
	}
	return n
}

// block picks the block of h from its upper half (a multiply-shift range
// reduction); the lower half picks the bits within the block.
func (s *filterSeg) block(h uint64) *filterBlock {
	return &s.blocks[((h>>32)*uint64(len(s.blocks)))>>32]
}
