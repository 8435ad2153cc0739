package dataset

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/valuescope/valuescope/host/conversation"
)

// Each format decodes a record into a struct that names only the fields it
// consumes; every other member lands in an ",embed" map that becomes the
// conversation's (or turn's) Meta. One pass over the bytes, nothing dropped.

// chatMessage is a message in the OpenAI chat shape, which OpenAI logs,
// Anthropic logs, WildChat and LMSYS-Chat-1M share. Content is a string, null,
// or a list of parts/blocks ({"type":"text","text":...}, tool calls, images).
type chatMessage struct {
	Role    string         `json:"role"`
	Content content        `json:"content"`
	Extra   map[string]any `json:",embed"`
}

// content is message content as decoded by the json package, except that a
// plain string is taken straight from the validated input when it has no
// escapes: the package would otherwise check its UTF-8 a second time while
// unquoting, which on non-ASCII text (the Chinese ShareGPT file) is a third
// of the reader's time.
type content struct{ v any }

func (c *content) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	if dec.PeekKind() != '"' {
		return json.UnmarshalDecode(dec, &c.v)
	}
	raw, err := dec.ReadValue()
	if err != nil {
		return err
	}
	s := unquote(raw[1 : len(raw)-1])
	if lenient, _ := json.GetOption(dec.Options(), jsontext.AllowInvalidUTF8); lenient {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	c.v = s
	return nil
}

// unquote decodes the escapes of a JSON string body that the decoder has
// already validated (UTF-8 and escape syntax), so it need not check again.
func unquote(b []byte) string {
	i := bytes.IndexByte(b, '\\')
	if i < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for i >= 0 {
		out = append(out, b[:i]...)
		c := b[i+1]
		b = b[i+2:]
		switch c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(b)
			b = b[4:]
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if len(b) >= 6 && b[0] == '\\' && b[1] == 'u' {
					if r2 = utf16.DecodeRune(r, hex4(b[2:])); r2 != utf8.RuneError {
						b = b[6:]
					}
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, c)
		}
		i = bytes.IndexByte(b, '\\')
	}
	return string(append(out, b...))
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

var formatOpenAI = &Format{
	Name:   "openai",
	Layout: `{"id"?, "messages":[{"role","content": str | [{"type":"text","text"}, ...]}]}, or {"request":{"messages"}, "response":{"choices":[{"message"}]}}`,
	detect: func(m map[string]any) error {
		if req, ok := m["request"].(map[string]any); ok {
			if err := needList(req, "messages", "role"); err != nil {
				return errors.New("request: " + err.Error())
			}
			if resp, ok := m["response"].(map[string]any); ok {
				return needList(resp, "choices", "message")
			}
			return nil
		}
		return needList(m, "messages", "role", "content")
	},
	decode: decodeMessages,
}

var formatAnthropic = &Format{
	Name:   "anthropic",
	Layout: `Messages API logs: {"system"?, "messages":[{"role","content": str | [{"type":"text","text"}, ...]}]}, or {"request":{...}, "response":{"type":"message","content":[...]}}`,
	detect: func(m map[string]any) error {
		if req, ok := m["request"].(map[string]any); ok {
			if err := needList(req, "messages", "role"); err != nil {
				return errors.New("request: " + err.Error())
			}
			resp, ok := m["response"].(map[string]any)
			if !ok {
				return errors.New(`"request" without a Messages API "response"`)
			}
			return needList(resp, "content", "type")
		}
		if err := needList(m, "messages", "role", "content"); err != nil {
			return err
		}
		if _, ok := m["system"]; ok {
			return nil
		}
		if model, _ := m["model"].(string); strings.HasPrefix(model, "claude") {
			return nil
		}
		for _, msg := range m["messages"].([]any) {
			if blocks, ok := msg.(map[string]any)["content"].([]any); ok {
				for _, b := range blocks {
					switch t, _ := b.(map[string]any)["type"].(string); t {
					case "tool_use", "tool_result", "thinking":
						return nil
					}
				}
			}
		}
		return errors.New(`messages carry no Anthropic mark (top-level "system", a claude model, tool_use/tool_result blocks); read as openai`)
	},
	decode: decodeMessages,
}

// messagesRecord covers OpenAI and Anthropic logs: a bare request (system and
// messages at the top), or a request/response pair.
type messagesRecord struct {
	ID       jsontext.Value   `json:"id"`
	System   any              `json:"system"`
	Messages []chatMessage    `json:"messages"`
	Request  *messagesRecord  `json:"request"`
	Response *messageResponse `json:"response"`
	Extra    map[string]any   `json:",embed"`
}

type messageResponse struct {
	// Anthropic: the reply is the response itself.
	Role    string  `json:"role"`
	Content content `json:"content"`
	// OpenAI: the reply is the first choice's message.
	Choices []struct {
		Message chatMessage    `json:"message"`
		Extra   map[string]any `json:",embed"`
	} `json:"choices"`
	Extra map[string]any `json:",embed"`
}

func decodeMessages(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
	var rec messagesRecord
	if err := unmarshal(data, &rec, lenient); err != nil {
		return dst, err
	}
	c := conversation.Conversation{ID: idString(rec.ID), Meta: rec.Extra}
	req := &rec
	if rec.Request != nil {
		req = rec.Request
		c.Meta = mergeMeta(c.Meta, req.Extra)
		if c.ID == "" {
			c.ID = idString(req.ID)
		}
	}
	if req.System != nil {
		text, err := contentText(req.System, nil)
		if err != nil {
			return dst, fmt.Errorf("system: %w", err)
		}
		c.Turns = append(c.Turns, conversation.Turn{Role: conversation.System, Content: text})
	}
	for i, m := range req.Messages {
		t, err := messageTurn(m.Role, m.Content.v, m.Extra, len(c.Turns))
		if err != nil {
			return dst, fmt.Errorf("messages[%d]: %w", i, err)
		}
		c.Turns = append(c.Turns, t)
	}
	if r := rec.Response; r != nil {
		var t conversation.Turn
		var err error
		switch {
		case len(r.Choices) > 0:
			m := r.Choices[0].Message
			t, err = messageTurn(m.Role, m.Content.v, m.Extra, len(c.Turns))
		case r.Content.v != nil:
			role := r.Role
			if role == "" {
				role = conversation.Assistant
			}
			t, err = messageTurn(role, r.Content.v, nil, len(c.Turns))
		}
		if err != nil {
			return dst, fmt.Errorf("response: %w", err)
		}
		if t.Role != "" {
			c.Turns = append(c.Turns, t)
		}
		if len(r.Extra) > 0 {
			c.Meta = mergeMeta(c.Meta, map[string]any{"response": r.Extra})
		}
	}
	return finish(dst, c)
}

var formatWildChat = &Format{
	Name:   "wildchat",
	Layout: `{"conversation_hash", "model", "timestamp", "conversation":[{"role","content","language","toxic","redacted",...}], "turn", "language", ...}`,
	detect: func(m map[string]any) error {
		if err := needString(m, "conversation_hash"); err != nil {
			return err
		}
		return needList(m, "conversation", "role", "content")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var rec struct {
			ID           jsontext.Value `json:"conversation_hash"`
			Conversation []chatMessage  `json:"conversation"`
			Extra        map[string]any `json:",embed"`
		}
		if err := unmarshal(data, &rec, lenient); err != nil {
			return dst, err
		}
		return chatConversation(dst, idString(rec.ID), rec.Conversation, rec.Extra)
	},
	decodeObject: func(rec map[string]any, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		return chatObject(dst, rec, "conversation_hash")
	},
}

var formatLMSYS = &Format{
	Name:   "lmsys",
	Layout: `LMSYS-Chat-1M: {"conversation_id", "model", "conversation":[{"role","content"}], "turn", "language", "openai_moderation", "redacted"}`,
	detect: func(m map[string]any) error {
		if _, ok := m["conversation_id"]; !ok {
			return errors.New(`no "conversation_id" field`)
		}
		return needList(m, "conversation", "role", "content")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var rec struct {
			ID           jsontext.Value `json:"conversation_id"`
			Conversation []chatMessage  `json:"conversation"`
			Extra        map[string]any `json:",embed"`
		}
		if err := unmarshal(data, &rec, lenient); err != nil {
			return dst, err
		}
		return chatConversation(dst, idString(rec.ID), rec.Conversation, rec.Extra)
	},
	decodeObject: func(rec map[string]any, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		return chatObject(dst, rec, "conversation_id")
	},
}

var errNotFastPath = errors.New("record not in the shape the fast path takes")

// chatObject is the decode of WildChat and LMSYS from a generically decoded
// record (a Parquet row): the ID under idKey, the messages under
// "conversation", every other member the metadata, as decode gives them.
// rec and its messages become the conversation's and turns' Meta.
func chatObject(dst []conversation.Conversation, rec map[string]any, idKey string) ([]conversation.Conversation, error) {
	var id string
	switch v := rec[idKey].(type) {
	case string:
		id = v
	case nil:
	default: // numbers keep their JSON spelling: the JSON way
		return dst, errNotFastPath
	}
	list, ok := rec["conversation"].([]any)
	if !ok {
		return dst, errNotFastPath
	}
	msgs := make([]chatMessage, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return dst, errNotFastPath
		}
		role, ok := m["role"].(string)
		if !ok {
			return dst, errNotFastPath
		}
		msgs[i] = chatMessage{Role: role, Content: content{m["content"]}}
		delete(m, "role")
		delete(m, "content")
		if len(m) > 0 {
			msgs[i].Extra = m
		}
	}
	delete(rec, idKey)
	delete(rec, "conversation")
	if len(rec) == 0 {
		rec = nil
	}
	return chatConversation(dst, id, msgs, rec)
}

func chatConversation(dst []conversation.Conversation, id string, msgs []chatMessage, meta map[string]any) ([]conversation.Conversation, error) {
	c := conversation.Conversation{ID: id, Meta: meta, Turns: make([]conversation.Turn, 0, len(msgs))}
	for i, m := range msgs {
		t, err := messageTurn(m.Role, m.Content.v, m.Extra, i)
		if err != nil {
			return dst, fmt.Errorf("conversation[%d]: %w", i, err)
		}
		c.Turns = append(c.Turns, t)
	}
	return finish(dst, c)
}

var formatShareGPT = &Format{
	Name:   "sharegpt",
	Layout: `{"id"?, "conversations":[{"from": "human"|"gpt"|"system"|..., "value"}]}`,
	detect: func(m map[string]any) error {
		return needList(m, "conversations", "from", "value")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var rec struct {
			ID            jsontext.Value `json:"id"`
			Conversations []struct {
				From  string         `json:"from"`
				Value content        `json:"value"`
				Extra map[string]any `json:",embed"`
			} `json:"conversations"`
			Extra map[string]any `json:",embed"`
		}
		if err := unmarshal(data, &rec, lenient); err != nil {
			return dst, err
		}
		c := conversation.Conversation{ID: idString(rec.ID), Meta: rec.Extra, Turns: make([]conversation.Turn, 0, len(rec.Conversations))}
		for i, m := range rec.Conversations {
			t, err := messageTurn(m.From, m.Value.v, m.Extra, i)
			if err != nil {
				return dst, fmt.Errorf("conversations[%d]: %w", i, err)
			}
			c.Turns = append(c.Turns, t)
		}
		return finish(dst, c)
	},
}

var formatClaudeExport = &Format{
	Name:   "claude-export",
	Layout: `Claude.ai data export conversations.json: [{"uuid", "name", "chat_messages":[{"sender": "human"|"assistant", "text", "content":[...], "created_at"}]}]`,
	detect: func(m map[string]any) error {
		return needList(m, "chat_messages", "sender")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var rec struct {
			ID       jsontext.Value `json:"uuid"`
			Messages []struct {
				Sender  string         `json:"sender"`
				Text    string         `json:"text"`
				Content []any          `json:"content"`
				Extra   map[string]any `json:",embed"`
			} `json:"chat_messages"`
			Extra map[string]any `json:",embed"`
		}
		if err := unmarshal(data, &rec, lenient); err != nil {
			return dst, err
		}
		c := conversation.Conversation{ID: idString(rec.ID), Meta: rec.Extra, Turns: make([]conversation.Turn, 0, len(rec.Messages))}
		for i, m := range rec.Messages {
			// The export repeats the text in content blocks; the blocks are
			// the fuller record (tool use, attachments), so prefer them.
			var content any = m.Text
			if len(m.Content) > 0 {
				content = m.Content
			}
			t, err := messageTurn(m.Sender, content, m.Extra, i)
			if err != nil {
				return dst, fmt.Errorf("chat_messages[%d]: %w", i, err)
			}
			c.Turns = append(c.Turns, t)
		}
		return finish(dst, c)
	},
}

var formatHHRLHF = &Format{
	Name:   "hh-rlhf",
	Layout: `Anthropic HH-RLHF: {"chosen", "rejected"}, each a transcript "\n\nHuman: ...\n\nAssistant: ..."; one line gives two conversations, <line>:chosen and <line>:rejected`,
	detect: func(m map[string]any) error {
		if err := needString(m, "chosen"); err != nil {
			return err
		}
		return needString(m, "rejected")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var rec struct {
			Chosen   *string        `json:"chosen"`
			Rejected *string        `json:"rejected"`
			Extra    map[string]any `json:",embed"`
		}
		if err := unmarshal(data, &rec, lenient); err != nil {
			return dst, err
		}
		if rec.Chosen == nil || rec.Rejected == nil {
			return dst, errors.New(`want both "chosen" and "rejected" transcripts`)
		}
		n := loc.Record
		if loc.Line > 0 {
			n = int64(loc.Line)
		}
		out := dst
		for _, v := range []struct{ name, text string }{{"chosen", *rec.Chosen}, {"rejected", *rec.Rejected}} {
			turns, err := parseTranscript(v.text)
			if err != nil {
				return dst, fmt.Errorf("%s: %w", v.name, err)
			}
			meta := make(map[string]any, len(rec.Extra)+1)
			for k, x := range rec.Extra {
				meta[k] = x
			}
			meta["hh_variant"] = v.name
			out, err = finish(out, conversation.Conversation{ID: fmt.Sprintf("%d:%s", n, v.name), Turns: turns, Meta: meta})
			if err != nil {
				return dst, fmt.Errorf("%s: %w", v.name, err)
			}
		}
		return out, nil
	},
}

// parseTranscript splits an HH-RLHF transcript at its "\n\nHuman:" and
// "\n\nAssistant:" markers.
func parseTranscript(s string) ([]conversation.Turn, error) {
	const human, assistant = "\n\nHuman:", "\n\nAssistant:"
	var turns []conversation.Turn
	role := ""
	for {
		h, a := strings.Index(s, human), strings.Index(s, assistant)
		next, nextRole, skip := -1, "", 0
		switch {
		case h >= 0 && (a < 0 || h < a):
			next, nextRole, skip = h, conversation.User, len(human)
		case a >= 0:
			next, nextRole, skip = a, conversation.Assistant, len(assistant)
		}
		text := s
		if next >= 0 {
			text = s[:next]
		}
		if role == "" {
			if strings.TrimSpace(text) != "" {
				return nil, errors.New(`text before the first "Human:" or "Assistant:" marker`)
			}
		} else {
			turns = append(turns, conversation.Turn{Role: role, Content: strings.TrimPrefix(text, " ")})
		}
		if next < 0 {
			return turns, nil
		}
		role, s = nextRole, s[next+skip:]
	}
}

var formatValuescope = &Format{
	Name:   "valuescope",
	Layout: `valuescope's normalised JSONL (datasets convert): {"id", "source", "turns":[{"role","content","meta"?}], "meta"?}`,
	detect: func(m map[string]any) error {
		if err := needString(m, "id"); err != nil {
			return err
		}
		return needList(m, "turns", "role", "content")
	},
	decode: func(data []byte, loc Location, lenient bool, dst []conversation.Conversation) ([]conversation.Conversation, error) {
		var c conversation.Conversation
		if err := unmarshal(data, &c, lenient); err != nil {
			return dst, err
		}
		for i, t := range c.Turns {
			if r, ok := conversation.NormalizeRole(t.Role); !ok || r != t.Role {
				return dst, fmt.Errorf("turns[%d]: role %q is not one of user, assistant, system, tool", i, t.Role)
			}
		}
		return finish(dst, c)
	},
}

// messageTurn builds a turn from a source message: the role normalised (the
// original kept in Meta when it differs), the content flattened to text.
func messageTurn(role string, content any, extra map[string]any, i int) (conversation.Turn, error) {
	norm, ok := conversation.NormalizeRole(role)
	if !ok {
		if role == "" {
			return conversation.Turn{}, errors.New("message has no role")
		}
		return conversation.Turn{}, fmt.Errorf("unknown role %q (known: user/human, assistant/gpt/model, system, tool/function)", role)
	}
	t := conversation.Turn{Role: norm, Meta: extra}
	text, err := contentText(content, &t.Meta)
	if err != nil {
		return conversation.Turn{}, err
	}
	t.Content = text
	// An Anthropic user message made only of tool results is the tool speaking.
	if norm == conversation.User && onlyToolResults(content) {
		t.Role = conversation.Tool
	}
	if t.Role != role {
		t.Meta = mergeMeta(t.Meta, map[string]any{conversation.MetaOriginalRole: role})
	}
	return t, nil
}

// contentText flattens message content to text. Text parts are joined with a
// blank line; tool calls and non-text parts (images, files) are kept in meta
// (when meta is not nil) so nothing is lost.
func contentText(content any, meta *map[string]any) (string, error) {
	switch v := content.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case []any:
		var b strings.Builder
		for i, p := range v {
			var text string
			switch part := p.(type) {
			case string:
				text = part
			case map[string]any:
				typ, _ := part["type"].(string)
				switch {
				case typ == "tool_result":
					var err error
					if text, err = contentText(part["content"], nil); err != nil {
						return "", fmt.Errorf("content[%d]: %w", i, err)
					}
				case isString(part["text"]) && (typ == "" || typ == "text" || typ == "input_text" || typ == "output_text"):
					text = part["text"].(string)
				default:
					if meta != nil {
						key := "non_text_parts"
						if typ == "tool_use" || typ == "function" || typ == "tool_call" {
							key = "tool_calls"
						}
						list, _ := (*meta)[key].([]any)
						*meta = mergeMeta(*meta, map[string]any{key: append(list, stripData(part))})
					}
					continue
				}
			default:
				return "", fmt.Errorf("content[%d] is %s, want a text part object", i, kindOf(p))
			}
			if b.Len() > 0 && text != "" {
				b.WriteString("\n\n")
			}
			b.WriteString(text)
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("content is %s, want a string or a list of parts", kindOf(content))
}

// stripData drops inline payloads (base64 images, file bytes) from a
// non-text part kept in Meta: the part's kind is worth keeping, megabytes of
// pixels are not.
func stripData(part map[string]any) map[string]any {
	out := make(map[string]any, len(part))
	for k, v := range part {
		if s, ok := v.(string); ok && len(s) > 1024 {
			v = fmt.Sprintf("<%d bytes omitted>", len(s))
		}
		if m, ok := v.(map[string]any); ok {
			v = stripData(m)
		}
		out[k] = v
	}
	return out
}

func onlyToolResults(content any) bool {
	parts, ok := content.([]any)
	if !ok || len(parts) == 0 {
		return false
	}
	for _, p := range parts {
		if m, ok := p.(map[string]any); !ok || m["type"] != "tool_result" {
			return false
		}
	}
	return true
}

func mergeMeta(dst, src map[string]any) map[string]any {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		dst = make(map[string]any, len(src))
	}
	for k, v := range src {
		dst[k] = v
	}
	return dst
}

// idString turns a source ID (string or number) into a string; "" when absent.
func idString(v jsontext.Value) string {
	switch v.Kind() {
	case '"':
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	case '0':
		return string(v)
	}
	return ""
}

// finish checks a decoded conversation and appends it.
func finish(dst []conversation.Conversation, c conversation.Conversation) ([]conversation.Conversation, error) {
	if len(c.Turns) == 0 {
		return dst, errors.New("conversation has no turns")
	}
	if c.ID == "" {
		c.ID = conversation.ContentID(c.Turns)
	}
	return append(dst, c), nil
}

// unmarshal decodes a record. Strict decoding rejects invalid UTF-8 (bytes,
// or escapes of lone surrogates); the reader retries a failed record leniently,
// with those replaced by U+FFFD, and flags the conversation.
func unmarshal(data []byte, v any, lenient bool) error {
	var opts json.Options = jsontext.AllowInvalidUTF8(lenient)
	if err := json.Unmarshal(data, v, opts); err != nil {
		return errors.New(jsonReason(err))
	}
	return nil
}
