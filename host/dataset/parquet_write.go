package dataset

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-json-experiment/json"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/valuescope/valuescope/host/conversation"
)

// Writing conversations as Parquet (see parquet.go for the schema).

// parquetConversation is the written schema; see the package comment.
type parquetConversation struct {
	ID     string        `parquet:"id"`
	Source string        `parquet:"source,dict"`
	Turns  []parquetTurn `parquet:"turns,list"`
	Meta   string        `parquet:"meta"`
}

type parquetTurn struct {
	Role    string `parquet:"role,dict"`
	Content string `parquet:"content"`
	Meta    string `parquet:"meta"`
}

const (
	// A row group is cut at whichever comes first, so that the writer's
	// memory stays bounded whatever the size of the conversations.
	parquetRowGroupBytes = 64 << 20
	parquetRowGroupRows  = 100_000
	parquetWriteBatch    = 64
)

type parquetEncoder struct {
	w          *parquet.GenericWriter[parquetConversation]
	batch      []parquetConversation
	groupBytes int
	groupRows  int
}

func newParquetEncoder(w *os.File) encoder {
	return &parquetEncoder{
		w: parquet.NewGenericWriter[parquetConversation](w,
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
			parquet.CreatedBy("valuescope", "", ""),
		),
		batch: make([]parquetConversation, 0, parquetWriteBatch),
	}
}

func (e *parquetEncoder) write(c *conversation.Conversation) error {
	meta, err := metaText(c.Meta)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	pc := parquetConversation{ID: c.ID, Source: c.Source, Meta: meta, Turns: make([]parquetTurn, len(c.Turns))}
	size := len(c.ID) + len(c.Source) + len(meta)
	for i, t := range c.Turns {
		m, err := metaText(t.Meta)
		if err != nil {
			return fmt.Errorf("turns[%d].meta: %w", i, err)
		}
		pc.Turns[i] = parquetTurn{Role: t.Role, Content: t.Content, Meta: m}
		size += len(t.Role) + len(t.Content) + len(m)
	}
	e.batch = append(e.batch, pc)
	e.groupBytes += size
	e.groupRows++
	if len(e.batch) == cap(e.batch) {
		if err := e.flushBatch(); err != nil {
			return err
		}
	}
	if e.groupBytes >= parquetRowGroupBytes || e.groupRows >= parquetRowGroupRows {
		if err := e.flushBatch(); err != nil {
			return err
		}
		e.groupBytes, e.groupRows = 0, 0
		return e.w.Flush()
	}
	return nil
}

func (e *parquetEncoder) flushBatch() error {
	if len(e.batch) == 0 {
		return nil
	}
	_, err := e.w.Write(e.batch)
	clear(e.batch)
	e.batch = e.batch[:0]
	return err
}

func (e *parquetEncoder) close() error {
	return errors.Join(e.flushBatch(), e.w.Close())
}

// metaText is a Meta map as JSON object text, "" when empty.
func metaText(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m, json.Deterministic(true))
	return string(b), err
}
