// Package safezip opens uploaded zip-based files (XLSX workbooks, QTI
// content packages) without letting them unpack to more than a bound: a
// 62 KB file that inflates to 60 MiB must cost a request nothing but a 413.
//
// Two checks make the bound hold. Before anything is inflated, every entry's
// declared size is checked against the per-part and total limits; and while
// a part is read, archive/zip itself refuses to inflate past the declared
// size (it answers zip.ErrFormat), so a lying header cannot smuggle more.
// Reads are counted again here as a second line of defence.
package safezip

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Limits bound what an archive may hold.
type Limits struct {
	// MaxEntries is the number of files and folders in the archive.
	MaxEntries int
	// MaxPartBytes is the uncompressed size of any one entry.
	MaxPartBytes int64
	// MaxTotalBytes is the uncompressed size of all entries together.
	MaxTotalBytes int64
}

// UploadLimits are the contract's bounds for uploads (API.md: an XLSX or zip
// package whose parts would unpack to more than 16 MiB is 413).
var UploadLimits = Limits{MaxEntries: 10_000, MaxPartBytes: 16 << 20, MaxTotalBytes: 16 << 20}

// Sentinel errors callers branch on.
var (
	// ErrTooLarge: the archive unpacks (or would unpack) past its limits.
	ErrTooLarge = errors.New("safezip: archive unpacks to more than the limit")
	// ErrNotZip: the bytes are not a readable zip archive.
	ErrNotZip = errors.New("safezip: not a zip archive")
)

// Reader is an archive whose declared sizes are within its limits.
type Reader struct {
	zr     *zip.Reader
	limits Limits
	read   int64 // bytes inflated so far, over every part
}

// Check reports whether an archive's declared sizes are within the limits,
// without inflating anything: ErrTooLarge, ErrNotZip or nil.
func Check(r io.ReaderAt, size int64, l Limits) error {
	_, err := NewReader(r, size, l)
	return err
}

// NewReader opens an archive and checks its declared sizes.
func NewReader(r io.ReaderAt, size int64, l Limits) (*Reader, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		if errors.Is(err, zip.ErrInsecurePath) {
			// Go reports unsafe names (../x, absolute) alongside a usable
			// reader; an upload has no business carrying them.
			return nil, fmt.Errorf("%w: unsafe entry name", ErrNotZip)
		}
		return nil, fmt.Errorf("%w: %v", ErrNotZip, err)
	}
	if l.MaxEntries > 0 && len(zr.File) > l.MaxEntries {
		return nil, fmt.Errorf("%w: %d entries (at most %d)", ErrTooLarge, len(zr.File), l.MaxEntries)
	}
	var total uint64
	for _, f := range zr.File {
		if f.UncompressedSize64 > uint64(l.MaxPartBytes) {
			return nil, fmt.Errorf("%w: %s unpacks to %d bytes (at most %d)", ErrTooLarge, f.Name, f.UncompressedSize64, l.MaxPartBytes)
		}
		total += f.UncompressedSize64
		if total > uint64(l.MaxTotalBytes) {
			return nil, fmt.Errorf("%w: the parts unpack to more than %d bytes", ErrTooLarge, l.MaxTotalBytes)
		}
	}
	return &Reader{zr: zr, limits: l}, nil
}

// Files lists the archive's entries (their declared sizes are within limits).
func (r *Reader) Files() []*zip.File { return r.zr.File }

// ReadFile inflates one entry, counting it against the total.
func (r *Reader) ReadFile(name string) ([]byte, error) {
	for _, f := range r.zr.File {
		if f.Name == name {
			return r.read1(f)
		}
	}
	return nil, fmt.Errorf("safezip: %s: %w", name, io.ErrUnexpectedEOF)
}

// ReadEntry inflates the given entry of this archive.
func (r *Reader) ReadEntry(f *zip.File) ([]byte, error) { return r.read1(f) }

func (r *Reader) read1(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotZip, f.Name, err)
	}
	defer rc.Close()
	budget := min(r.limits.MaxPartBytes, r.limits.MaxTotalBytes-r.read)
	var buf bytes.Buffer
	buf.Grow(int(min(f.UncompressedSize64, uint64(max(budget, 0)))))
	n, err := io.Copy(&buf, io.LimitReader(rc, budget+1))
	r.read += n
	if n > budget {
		return nil, fmt.Errorf("%w: %s", ErrTooLarge, f.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotZip, f.Name, err)
	}
	return buf.Bytes(), nil
}
