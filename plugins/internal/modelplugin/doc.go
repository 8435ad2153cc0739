// Package modelplugin is what the built-in model-backed plugins share
// (subjectivity, values, response-type-model, task, task-description): the
// prompt template, the rendering of a conversation into it, the strict
// parsing of the model's JSON answer, the one repair round, and the
// normalisation of item names.
//
// # Prompt files
//
// A prompt file (configs/prompts/*.md) is Markdown text sent to the model
// after these steps, in order:
//
//   - A line holding only "<!-- user -->" splits the file: the text above it
//     is the system prompt, the text below it the user message. Without that
//     line, the whole file is the user message and there is no system prompt.
//   - Every other HTML comment ("<!-- ... -->", over any number of lines) is
//     removed, so that a prompt file can document itself without the model
//     reading the documentation.
//   - Each part is trimmed of surrounding white space.
//   - Placeholders "{{name}}" (inner spaces allowed: "{{ name }}") are
//     replaced, in one pass, so text substituted in (a conversation quoting
//     "{{labels}}", say) is never expanded again. A placeholder the plugin does
//     not know, or a missing required one, refuses the configuration. Braces
//     that do not form "{{identifier}}" (a JSON example) are left as written.
//
// Every plugin knows {{conversation}} (required) and {{schema}} (the JSON
// Schema the answer must follow, as indented JSON); each plugin documents its
// others.
//
// # The conversation
//
// {{conversation}} renders the turns as "User: ...", "Assistant: ...",
// "Tool: ..." (and "System: ..." with include_system), separated by blank
// lines; empty turns are left out; invalid UTF-8 is replaced. When the turns'
// text exceeds max_conversation_chars (counted in characters, role labels not
// counted), the budget is shared fairly: turns shorter than their share are
// kept whole, the others are cut to the share, keeping their beginning and
// their end around a line "[… N characters omitted …]".
//
// # The answer
//
// The model is asked for one JSON object, with the schema passed in
// ModelCall.schema_json (hosts hand it to the provider's structured-output
// feature). The answer is parsed strictly: one JSON object, optionally inside
// one Markdown code fence, and nothing else; no unknown keys; every key
// present with its type; labels from the allowed set. An answer that does not
// parse gets one repair round — the same prompt, the invalid answer, and a
// message naming what was wrong — and if the repaired answer does not parse
// either, the conversation fails with an error quoting the start of it. A
// failed model call (the host gave up after its retries) fails the
// conversation at once.
package modelplugin
