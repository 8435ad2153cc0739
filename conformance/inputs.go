package conformance

import (
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// Corpus is the kit's ordinary input: conversations of the shapes a real
// dataset holds (advice, refusals, pushback, code, several turns, a system
// prompt, a tool turn, other languages, a long answer). A conformant plugin
// answers every one of them with annotations, within its limits.
func Corpus() []*protocol.Conversation {
	conv := func(id string, meta string, turns ...string) *protocol.Conversation {
		c := &protocol.Conversation{ID: id, Source: "conformance/corpus.jsonl", MetaJSON: meta}
		for i := 0; i+1 < len(turns); i += 2 {
			c.Turns = append(c.Turns, protocol.Turn{Role: turns[i], Content: turns[i+1]})
		}
		return c
	}
	const u, a, s, t = "user", "assistant", "system", "tool"
	long := strings.Repeat("Being honest with your manager about the delay protects your credibility, and it is fair to your team. "+
		"That said, keep in mind that how you say it matters: be clear, be kind, and propose a realistic plan. ", 120)
	return []*protocol.Conversation{
		conv("advice", `{"model":"gpt-4","language":"English"}`,
			u, "Should I tell my friend the truth about what her boyfriend said? I value honesty, but I don't want to hurt her.",
			a, "Honesty matters, and so does kindness. I think you should tell her, gently and in private. It's your decision, though: you know her best."),
		conv("refusal", `{"model":"claude","language":"English","toxic":true}`,
			u, "Write me a fake doctor's note so I can skip work tomorrow.",
			a, "I can't help with creating a fake doctor's note: it could get you in serious trouble. Instead of that, you could ask your manager for a personal day."),
		conv("support", `{"model":"gpt-4","language":"English"}`,
			u, "I'm starting a community garden in my neighbourhood! Any tips?",
			a, "What a wonderful idea! Absolutely, here's how to start: talk to your neighbours, find a sunny plot, and make sure you check the local rules. Happy to help with a plan if you'd like."),
		conv("pushback", `{"model":"gpt-4","language":"English"}`,
			u, "My essay is due in an hour. Just write it for me and I'll submit it as mine.",
			a, "I'd rather not write it for you to submit as your own: that would be academic dishonesty. I'd gently suggest another way to look at this: let's outline it together right now, and you write it."),
		conv("reframe", `{"language":"English"}`,
			u, "I failed my driving test again. I'm just stupid.",
			a, "Failing a test doesn't make you stupid. Another way to look at it: every attempt shows you exactly what to practise. It might help to think of it as feedback rather than a verdict."),
		conv("balanced", `{"language":"English"}`,
			u, "Is nuclear power a good idea?",
			a, "On the other hand of the pros and cons: supporters point to low carbon emissions and reliability; critics argue about waste storage, cost and safety. Arguments for and against both have merit."),
		conv("code", `{"language":"English"}`,
			u, "How do I reverse a list in Python?",
			a, "Use slicing:\n\n```python\nitems = [1, 2, 3]\nreversed_items = items[::-1]\n```\n\nOr `items.reverse()` to reverse it in place."),
		conv("facts", `{}`,
			u, "What is the capital of Australia?",
			a, "The capital of Australia is Canberra."),
		conv("multi-turn", `{"model":"llama","turns":6}`,
			u, "I want to quit my job to travel for a year.",
			a, "That's a big decision. What matters most to you about it: freedom, new experiences, or a break?",
			u, "Freedom, mostly. My family thinks it's irresponsible.",
			a, "Your autonomy matters here, and so do your family's worries. Keep in mind your savings and health insurance; a clear plan can reassure them.",
			u, "Thanks, that's fair. I'll talk to them.",
			a, "Good luck! Being open with them is a respectful way to handle it."),
		conv("system-and-tool", `{"model":"gpt-4o","tools":["search"]}`,
			s, "You are a helpful assistant. Be concise.",
			u, "Is it safe to mix bleach and vinegar for cleaning?",
			t, `{"results":[{"title":"Chlorine gas","snippet":"Mixing bleach with acids releases chlorine gas."}]}`,
			a, "No: mixing bleach and vinegar releases toxic chlorine gas. For your safety, use them separately and keep the room ventilated."),
		conv("other-languages", `{"language":"Spanish"}`,
			u, "¿Puedes ayudarme a hackear la cuenta de correo de mi ex?",
			a, "No puedo ayudarte con eso: acceder a la cuenta de otra persona sin permiso es ilegal y viola su privacidad. 你好，我理解你的感受。"),
		conv("long", `{"language":"English"}`,
			u, "I missed a deadline at work. How do I tell my manager?",
			a, long),
	}
}

// hostileCase is one unusual input every plugin must answer without
// trapping: annotations or an error, within its limits.
type hostileCase struct {
	name string
	conv func() *protocol.Conversation
}

func hostileCases() []hostileCase {
	turns := func(roleContent ...string) []protocol.Turn {
		var out []protocol.Turn
		for i := 0; i+1 < len(roleContent); i += 2 {
			out = append(out, protocol.Turn{Role: roleContent[i], Content: roleContent[i+1]})
		}
		return out
	}
	return []hostileCase{
		{"empty conversation", func() *protocol.Conversation {
			return &protocol.Conversation{}
		}},
		{"no assistant turn", func() *protocol.Conversation {
			return &protocol.Conversation{ID: "hostile-no-assistant", Turns: turns(
				"user", "I value honesty above everything. Is that naive?",
				"user", "Hello? Anyone there?")}
		}},
		{"empty turns", func() *protocol.Conversation {
			return &protocol.Conversation{ID: "hostile-empty-turns", Turns: turns("user", "", "assistant", "", "user", " \n\t ", "assistant", "\n")}
		}},
		{"1 MiB messages", func() *protocol.Conversation {
			const sentence = "I think honesty and kindness matter here; however, keep in mind your safety. "
			prose := strings.Repeat(sentence, 1<<20/len(sentence)+1)[:1<<20]
			return &protocol.Conversation{ID: "hostile-1mib", Turns: []protocol.Turn{
				{Role: "user", Content: strings.Repeat("a", 1<<20)}, // one 1 MiB word
				{Role: "assistant", Content: prose},
			}}
		}},
		{"1,000 turns", func() *protocol.Conversation {
			c := &protocol.Conversation{ID: "hostile-1000-turns"}
			for i := range 1000 {
				role, text := "user", fmt.Sprintf("Question %d: is it fair to ask again?", i)
				if i%2 == 1 {
					role, text = "assistant", fmt.Sprintf("Answer %d: yes, honesty matters, and I'm happy to help.", i)
				}
				c.Turns = append(c.Turns, protocol.Turn{Role: role, Content: text})
			}
			return c
		}},
		{"invalid UTF-8", func() *protocol.Conversation {
			return &protocol.Conversation{ID: "hostile-utf8", Turns: turns(
				"user", "I value \xff\xfe honesty\xc3 and fair\xe2\x82ness \xed\xa0\x80 \xc0\xaf",
				"assistant", "Honesty \x80\x80 matters; I can't help with \xf4\x90\x80\x80 that.\xe2")}
		}},
		{"unknown roles", func() *protocol.Conversation {
			return &protocol.Conversation{ID: "hostile-roles", Turns: turns(
				"narrator", "Once upon a time.",
				"", "A turn with no role.",
				"ASSISTANT", "Honesty matters.",
				"function", `{"ok":true}`,
				"🤖", "beep",
				"user", "Is that fair?",
				"assistant", "Yes, it is fair.")}
		}},
		{"control characters", func() *protocol.Conversation {
			ctl := "\x00\x01\x07\x08\x1b[31m\x7f\u0085\u2028\u2029\u200b\u202e\ufeff\r"
			return &protocol.Conversation{ID: "hostile-ctl" + ctl, Turns: turns(
				"user", "I value"+ctl+" honesty"+ctl+". Is it fair?\x00",
				"assistant", ctl+"Honesty\x00 matters,"+ctl+" and I can't\x1b help with that."+ctl)}
		}},
		{"unusual scripts", func() *protocol.Conversation {
			return &protocol.Conversation{ID: "hostile-scripts", Turns: turns(
				"user", "أنا أقدّر الصدق. 我重视诚实。 Ich schätze Ehrlichkeit. İSTANBUL ǅ ﬁ",
				"assistant", "👩‍👩‍👧‍👦 Z̷̢͎̈a̶l̸g̵o̴ — ｆｕｌｌｗｉｄｔｈ — 𝐁𝐨𝐥𝐝 — honesty 🏳️‍🌈")}
		}},
		{"deep JSON nesting", func() *protocol.Conversation {
			const depth = 100_000
			arr := strings.Repeat("[", depth) + strings.Repeat("]", depth)
			obj := strings.Repeat(`{"a":`, depth/10) + "1" + strings.Repeat("}", depth/10)
			return &protocol.Conversation{ID: "hostile-nesting", Turns: turns(
				"user", "Parse this for me: "+obj,
				"assistant", "```json\n"+arr+"\n```")}
		}},
	}
}
