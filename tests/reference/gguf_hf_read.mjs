// Reads a GGUF file's metadata and tensor infos with Hugging Face's GGUF parser (npm
// @huggingface/gguf), a third-party reader of the format, and prints them as JSON.
//   node gguf_hf_read.mjs NODE_MODULES_DIR FILE.gguf
import { pathToFileURL } from "node:url";
import path from "node:path";

const [modules, file] = process.argv.slice(2);
const entry = path.join(modules, "@huggingface", "gguf", "dist", "index.mjs");
const { gguf } = await import(pathToFileURL(entry).href);
const r = await gguf(path.resolve(file), { allowLocalFile: true });
const big = (k, v) => (typeof v === "bigint" ? Number(v) : v);
process.stdout.write(
  JSON.stringify({ metadata: r.metadata, tensorInfos: r.tensorInfos, tensorDataOffset: r.tensorDataOffset }, big),
);
