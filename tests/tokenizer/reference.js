#!/usr/bin/env node
// Reference ids from Hugging Face's own tokenizers (npm `tokenizers`, the Rust library's node
// binding). Reads a JSONL corpus ({"text": ...} per line) and writes, per document, the ids
// without and with special tokens, one JSON array pair per line:
//   node reference.js NODE_MODULES_DIR tokenizer.json corpus.jsonl out.jsonl
const path = require("path");
const fs = require("fs");
const [modules, tokFile, corpusFile, outFile] = process.argv.slice(2);
if (!outFile) {
  console.error("usage: reference.js NODE_MODULES_DIR tokenizer.json corpus.jsonl out.jsonl");
  process.exit(2);
}
const { Tokenizer } = require(path.join(modules, "tokenizers"));

async function main() {
  const tok = Tokenizer.fromFile(tokFile);
  const lines = fs.readFileSync(corpusFile, "utf8").split("\n").filter((l) => l.length > 0);
  const out = [];
  for (const line of lines) {
    const text = JSON.parse(line).text;
    const plain = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    const special = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const decoded = await tok.decode(plain, false);
    out.push(JSON.stringify([Array.from(plain), Array.from(special), decoded]));
  }
  fs.writeFileSync(outFile, out.join("\n") + "\n");
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
