#!/usr/bin/env node
// The same measurement with Hugging Face's tokenizers (npm `tokenizers`): documents encoded one
// after another (one Rust thread at a time), best of REPEAT runs.
//   node tokenize_bench.js NODE_MODULES TOKENIZER.json CORPUS.jsonl [REPEAT]
const path = require("path");
const fs = require("fs");
const [modules, tokFile, corpusFile, repeatArg] = process.argv.slice(2);
const { Tokenizer } = require(path.join(modules, "tokenizers"));
(async () => {
  const t0 = process.hrtime.bigint();
  const tok = Tokenizer.fromFile(tokFile);
  const load = Number(process.hrtime.bigint() - t0) / 1e9;
  const texts = fs.readFileSync(corpusFile, "utf8").split("\n").filter((l) => l).map((l) => JSON.parse(l).text);
  const bytes = texts.reduce((n, t) => n + Buffer.byteLength(t, "utf8"), 0);
  // encode() per document pays the binding's per-call cost; encodeBatch() with RAYON_NUM_THREADS=1
  // (set by the caller) runs the whole corpus in one Rust call on one thread.
  for (const mode of ["encode", "encodeBatch"]) {
    let best = Infinity, tokens = 0;
    for (let r = 0; r < Number(repeatArg || 3); ++r) {
      const s = process.hrtime.bigint();
      tokens = 0;
      if (mode === "encode") {
        for (const t of texts) tokens += (await tok.encode(t, null, { addSpecialTokens: false })).getIds().length;
      } else {
        for (const e of await tok.encodeBatch(texts, { addSpecialTokens: false })) tokens += e.getIds().length;
      }
      best = Math.min(best, Number(process.hrtime.bigint() - s) / 1e9);
    }
    console.log(JSON.stringify({ impl: "hf-" + mode, threads: 1, bytes, tokens, seconds: best, load_seconds: load }));
  }
})();
